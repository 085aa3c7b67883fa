"""One registry mapping a document language to its analyzer.

Every field analyzer understands every script (ScriptRouter); the language
decides how words of space-delimited scripts are treated (English stemming,
Vietnamese syllable folding, or generic folding). Documents go to the field
of their language; queries are analyzed by every field's analyzer.
"""
from whoosh.analysis import Analyzer

from .arabic import arabic_chain_filters
from .bigrams import BigramTokenizer, NFKCFoldFilter
from .chinese import ChineseFoldFilter, ChineseTokenizer
from .latin import WordTokenizer, english_filters, exact_filters, generic_filters, vietnamese_filters
from .router import ScriptRouter
from .scripts import ARABIC, HAN, HANGUL, KANA, NOSPACE, THAI, WORD
from .thai import ThaiNormalizeFilter, ThaiTokenizer

# Languages with a field of their own; everything else is indexed as OTHER.
LANGUAGES = ("th", "zh", "ar", "vi", "en")
OTHER = "other"
FIELD_LANGUAGES = LANGUAGES + (OTHER,)
# Vietnamese also gets an accent-exact field so exact-diacritic matches rank higher.
EXACT_LANGUAGES = ("vi",)


def _router(word_filters) -> ScriptRouter:
    return ScriptRouter(
        chains={
            THAI: ThaiTokenizer() | ThaiNormalizeFilter(),
            HAN: ChineseTokenizer() | ChineseFoldFilter(),
            ARABIC: WordTokenizer() | arabic_chain_filters(),
            KANA: BigramTokenizer() | NFKCFoldFilter(),
            HANGUL: BigramTokenizer() | NFKCFoldFilter(),
            NOSPACE: BigramTokenizer() | NFKCFoldFilter(),
            WORD: WordTokenizer() | word_filters,
        },
        default=WordTokenizer() | generic_filters(),
    )


_WORD_FILTERS = {
    "en": english_filters,
    "vi": vietnamese_filters,
}


def field_language(lang: str | None) -> str:
    """The field language a document of language `lang` is indexed under."""
    return lang if lang in LANGUAGES else OTHER


def analyzer_for(lang: str | None, exact: bool = False) -> Analyzer:
    """A fresh analyzer for documents of `lang` (exact=True: accents kept, vi only)."""
    if exact:
        return _router(exact_filters())
    return _router(_WORD_FILTERS.get(field_language(lang), generic_filters)())
