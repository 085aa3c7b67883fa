"""Language analysis for polysearch: per-language Whoosh analyzers, language ID, the entity lexicon.

    from analyzers import analyzer_for, analyze
    analyze(analyzer_for("th"), "จังหวัดด่งนาย")   # tokens with offsets into the original text
"""
from .registry import EXACT_LANGUAGES, FIELD_LANGUAGES, LANGUAGES, OTHER, analyzer_for, field_language
from .router import analyze


def initialize() -> None:
    """Load dictionaries now (jieba's prefix dict, newmm's trie) so the first query is fast."""
    from .chinese import JIEBA
    from .thai import SEGMENTER

    JIEBA.get()
    SEGMENTER.get()


__all__ = ["LANGUAGES", "FIELD_LANGUAGES", "EXACT_LANGUAGES", "OTHER", "analyzer_for",
           "field_language", "analyze", "initialize"]
