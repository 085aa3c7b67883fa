"""Chinese: jieba search-mode segmentation over Simplified, half-width text.

Search mode also emits the dictionary sub-words of long words, so 工具 is
found inside 测试工具箱. Traditional characters are folded to Simplified and
full-width forms to half-width one character for one, so offsets still point
into the original text.
"""
import logging

from .cachedir import cache_dir
from .normalize import fold_width_same_length, to_simplified_same_length
from .tokens import LazyShared, SpanTokenizer, TextMapFilter, is_wordlike


def _load_jieba():
    import jieba

    from .cjieba import tokenizer_class

    jieba.setLogLevel(logging.WARNING)
    tok = tokenizer_class()()       # its word graph and best path in C where built (cjieba/)
    tok.tmp_dir = cache_dir()
    tok.initialize()  # build/load the prefix dictionary now, not in a query
    return tok


JIEBA = LazyShared(_load_jieba)


def initialize() -> None:
    """Load the Chinese dictionary (call at start-up so the first query is not slow)."""
    JIEBA.get()


def fold_chinese_same_length(text: str) -> str:
    return to_simplified_same_length(fold_width_same_length(text))


class ChineseTokenizer(SpanTokenizer):
    """Words and their dictionary sub-words (jieba search mode), on folded text."""

    def spans(self, value):
        folded = fold_chinese_same_length(value)
        out = []
        for word, start, end in JIEBA.get().tokenize(folded, mode="search", HMM=True):
            if is_wordlike(word):
                out.append((start, end))
        return out


class ChineseFoldFilter(TextMapFilter):
    """Token text in Simplified, half-width form (the tokenizer sliced the original)."""

    fold = staticmethod(fold_chinese_same_length)
