"""Space-delimited scripts (Latin, Cyrillic, Greek, Devanagari, Hebrew ...).

Words are letters/digits with their combining marks, so decomposed (NFD)
Vietnamese and Devanagari vowel signs stay inside the word.
"""
import unicodedata

import regex
from whoosh.analysis import RegexTokenizer, StemFilter, StopFilter
from whoosh.lang.stopwords import stoplists

from .normalize import fold_diacritics, fold_width_same_length
from .tokens import TextMapFilter

WORD_PATTERN = r"\p{N}+(?:[.,]\p{N}+)*|(?:[\p{L}\p{N}]\p{M}*)+"


class WordTokenizer(RegexTokenizer):
    """Unicode words (letters, digits and their marks); apostrophes and hyphens split."""

    def __init__(self, expression=WORD_PATTERN, gaps=False):
        # The regex module: \p{M} keeps combining marks inside words.
        self.expression = regex.compile(expression)
        self.gaps = gaps


def casefold_text(text: str) -> str:
    return unicodedata.normalize("NFC", fold_width_same_length(text)).casefold()


class CaseFoldFilter(TextMapFilter):
    """Half-width, NFC, full Unicode case folding (ＡＩ→ai, ß→ss, Σ/ς→σ), beyond str.lower()."""

    fold = staticmethod(casefold_text)


class FoldDiacriticsFilter(TextMapFilter):
    """Accent-insensitive matching: Hải Phòng → hai phong, Đồng → dong, café → cafe."""

    fold = staticmethod(fold_diacritics)


def english_filters():
    return (CaseFoldFilter() | FoldDiacriticsFilter()
            | StopFilter(stoplist=stoplists["en"], minsize=1) | StemFilter(lang="en"))


def vietnamese_filters():
    """Syllables, folded: the diacritic-insensitive field (exact form is a separate field)."""
    return CaseFoldFilter() | FoldDiacriticsFilter()


def exact_filters():
    """Case-folded but accents kept: a match here means the user typed the exact diacritics."""
    return CaseFoldFilter()


def generic_filters():
    return CaseFoldFilter() | FoldDiacriticsFilter()
