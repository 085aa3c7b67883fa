"""The Whoosh schema: one title/body field pair per field language.

A document's text goes only into the fields of its own language, so term
statistics (IDF, lengths) are per language; a query is analyzed by every
field's analyzer and matched against all of them, giving one ranked list.
"""
from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT, Schema

from analyzers import EXACT_LANGUAGES, FIELD_LANGUAGES, analyzer_for

from .positions import TermPositions
from .wordspans import BODY_SPANS, SEGMENTED_LANGUAGES, WordSpanPositions

TITLE_BOOST = 2.0
EXACT_BOOST = 1.0  # an exact-diacritic match counts double (xquad-dev vi MRR@10: 0 → .933, 0.5 → .946, 1.0 → .950, 2.0 → .950)


def text_fields(lang: str) -> list[str]:
    """Indexed text fields for a field language (exact variants included)."""
    names = [f"title_{lang}", f"body_{lang}"]
    if lang in EXACT_LANGUAGES:
        names += [f"title_{lang}_exact", f"body_{lang}_exact"]
    return names


def all_text_fields() -> list[str]:
    return [name for lang in FIELD_LANGUAGES for name in text_fields(lang)]


def _phrase_text(analyzer, word_spans: bool = False) -> TEXT:
    """A TEXT field with positions (phrase queries), written by TermPositions: Whoosh's bytes;
    word_spans: WordSpanPositions, which also records where the words are (wordspans.py)."""
    field = TEXT(analyzer=analyzer, phrase=True)
    field.format = (WordSpanPositions if word_spans else TermPositions)(field_boost=field.format.field_boost)
    return field


def build_schema() -> Schema:
    fields = {
        "id": ID(stored=True, unique=True, sortable=True),  # column: docnum → id without unpickling stored fields
        "title": STORED(),
        "body": STORED(),
        BODY_SPANS: STORED(),     # the body's words, for Thai and Chinese snippets (wordspans.py)
        "url": STORED(),
        "path": STORED(),
        "hash": ID(stored=True, sortable=True),   # a column: reindexing reads it without the bodies
        "lang": ID(stored=True, sortable=True),
        "source": ID(stored=True, sortable=True),
        "year": ID(stored=True, sortable=True),
        "date": DATETIME(stored=True, sortable=True),
        # One comma-separated id per mention: term frequency = how much an article is about it.
        "entities": KEYWORD(stored=True, commas=True, scorable=True, lowercase=False),
    }
    for lang in FIELD_LANGUAGES:
        analyzer = analyzer_for(lang)
        fields[f"title_{lang}"] = _phrase_text(analyzer)
        fields[f"body_{lang}"] = _phrase_text(analyzer, word_spans=lang in SEGMENTED_LANGUAGES)
        if lang in EXACT_LANGUAGES:
            exact = analyzer_for(lang, exact=True)
            fields[f"title_{lang}_exact"] = TEXT(analyzer=exact, phrase=False)
            fields[f"body_{lang}_exact"] = TEXT(analyzer=exact, phrase=False)
    return Schema(**fields)
