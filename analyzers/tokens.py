"""Building blocks shared by the segmenting tokenizers.

Segmenters (newmm, jieba) run on a normalized copy of the text; an OffsetMap
carries every character of that copy back to its position in the original,
so highlighting stays exact whatever the normalization removed.
"""
import threading
from functools import lru_cache

from whoosh.analysis import Filter, Token, Tokenizer


class LazyShared:
    """A resource loaded once per process on first use (dictionaries); thread-safe."""

    def __init__(self, load):
        self._load = load
        self._value = None
        self._lock = threading.Lock()

    def get(self):
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._load()
        return self._value


class TextMapFilter(Filter):
    """Replaces each token's text with fold(text); drops tokens that fold to nothing.

    Subclasses set `fold` as a class attribute, so pickled analyzers carry no state. Folds are
    pure functions of a word, and a vocabulary repeats: each subclass's fold is remembered for
    the last 65,536 words it saw (OpenCC's conversion of a Chinese word costs ~1.5 us, the Thai
    normalization ~4 us; a dict lookup a tenth of that).
    """

    fold = staticmethod(lambda text: text)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "fold" in cls.__dict__:
            cls.fold = staticmethod(lru_cache(maxsize=65536)(cls.__dict__["fold"].__func__))

    def __call__(self, tokens):
        for t in tokens:
            text = self.fold(t.text)
            if text:
                t.text = text
                yield t


class OffsetMap:
    """A normalized string plus, for each of its characters, the original index."""

    __slots__ = ("text", "origin", "length")

    def __init__(self, text: str, origin: list[int] | None, length: int):
        self.text = text
        self.origin = origin  # None means identity (nothing was removed)
        self.length = length  # length of the original text

    @classmethod
    def by_deleting(cls, text: str, drop) -> "OffsetMap":
        """Remove the characters at the indexes for which drop(text, i) is true."""
        keep = [i for i in range(len(text)) if not drop(text, i)]
        if len(keep) == len(text):
            return cls(text, None, len(text))
        return cls("".join(text[i] for i in keep), keep, len(text))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) of the normalized span [start, end)."""
        if self.origin is None:
            return start, end
        if start >= len(self.origin):
            return self.length, self.length
        return self.origin[start], self.origin[end - 1] + 1


# A query reaches every field's analyzer (title and body of each language), and each routes its
# Thai or Chinese words to the same segmenter: the spans of a short text are remembered, per
# tokenizer class, so it is segmented once per query, not seven times (query compile p50, Thai
# 755 -> 398 us, Chinese 576 -> 359 us; lexical search p50 at 10k 4.25 -> 4.08 ms). Bodies are
# longer than this and are segmented once anyway.
SHORT_TEXT_CHARS = 256


@lru_cache(maxsize=1024)
def _short_text_spans(tokenizer_class, value: str) -> tuple:
    return tuple(tokenizer_class().spans(value))


class SpanTokenizer(Tokenizer):
    """Base for tokenizers that find (start, end) word spans in a text.

    Subclasses implement spans(value) -> iterable of (start, end) into value: a function of the
    value alone (they hold no state), since a short value's spans are remembered per class.
    """

    def spans(self, value: str):
        raise NotImplementedError

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            spans = [(0, len(value))] if value else []
        elif len(value) <= SHORT_TEXT_CHARS:
            spans = _short_text_spans(type(self), value)
        else:
            spans = self.spans(value)
        pos = start_pos
        for start, end in spans:
            t.text = value[start:end]
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = t.text
            if positions:
                t.pos = pos
            pos += 1
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t


def is_wordlike(text: str) -> bool:
    """True if the text has a letter or digit (segmenters also return spaces and punctuation)."""
    return any(ch.isalnum() for ch in text)
