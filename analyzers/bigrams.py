"""Character bigrams for scripts written without spaces (Lao, Khmer, Myanmar, kana, Hangul).

With no dictionary at hand, overlapping bigrams of grapheme clusters are the
standard fallback (Lucene's CJKBigramFilter): every word is found, and
phrase-like matches rank high because consecutive bigrams all match.
"""
import unicodedata

import regex

from .tokens import SpanTokenizer, TextMapFilter

_LETTER_STRETCH = regex.compile(r"(?:[\p{L}\p{N}]\p{M}*)+")
_GRAPHEME = regex.compile(r"\X")


class BigramTokenizer(SpanTokenizer):
    """Overlapping bigrams of grapheme clusters within each stretch of letters."""

    def spans(self, value):
        out = []
        for m in _LETTER_STRETCH.finditer(value):
            bounds = [g.start() for g in _GRAPHEME.finditer(m.group())] + [len(m.group())]
            base = m.start()
            if len(bounds) == 2:
                out.append((base, base + bounds[1]))
                continue
            for i in range(len(bounds) - 2):
                out.append((base + bounds[i], base + bounds[i + 2]))
        return out


def nfkc_casefold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


class NFKCFoldFilter(TextMapFilter):
    """Half-width katakana and compatibility forms to their canonical letters, lowercased."""

    fold = staticmethod(nfkc_casefold)
