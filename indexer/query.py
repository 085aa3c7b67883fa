"""From a user's query string to a Whoosh query over every language's fields.

The syntax is deliberately small and cannot fail: "quoted phrases" must
appear, -word excludes, everything else is ranked free text. Unbalanced quotes
and stray operators are read as plain text. Each field analyzes the text with
its own analyzer, so one query string becomes Thai terms for the Thai fields,
folded syllables for the Vietnamese fields, stems for the English fields ...
"""
from dataclasses import dataclass, field

import regex
from whoosh import query as Q

from analyzers import EXACT_LANGUAGES, FIELD_LANGUAGES, analyzer_for, field_language
from analyzers.normalize import fold_diacritics
from analyzers.stopwords import query_stopwords

from .minmatch import MinShouldMatch
from .schema import EXACT_BOOST, TITLE_BOOST

MAX_TERMS_PER_FIELD = 32  # caps the work a pathological query can cause
# Each phrase is a required clause over every language's fields: 120 one-word phrases took
# 0.7 s on a 5-article index. Phrases past the cap are ranked as free text; exclusions past
# theirs are dropped.
MAX_PHRASES = 8
MAX_EXCLUDED = 16
# Terms matched in the fields of a language other than the query's count less: an English
# query's names also occur in the Vietnamese translation, but the English article is the answer.
# Cross-language matches still rank (entity names, loanwords); see issue notes for the measure.
OTHER_LANGUAGE_WEIGHT = 0.5

_PHRASE = regex.compile(r'"([^"]+)"')
_EXCLUDE = regex.compile(r"(?:^|\s)-(\S+)")


@dataclass
class ParsedQuery:
    text: str                                   # free text, ranked
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.text.strip() or self.phrases)


def parse_user_query(raw: str) -> ParsedQuery:
    raw = raw.replace("\x00", " ")
    phrases = list(dict.fromkeys(p.strip() for p in _PHRASE.findall(raw) if p.strip()))
    rest = _PHRASE.sub(" ", raw)
    excluded = list(dict.fromkeys(_EXCLUDE.findall(rest)))[:MAX_EXCLUDED]
    rest = _EXCLUDE.sub(" ", rest).replace('"', " ")
    rest = " ".join([rest] + phrases[MAX_PHRASES:])
    return ParsedQuery(text=" ".join(rest.split()), phrases=phrases[:MAX_PHRASES], excluded=excluded)


_ANALYZERS: dict[tuple[str, bool], object] = {}


def field_analyzer(lang: str, exact: bool = False):
    """Analyzers are built once per process (they hold no per-query state)."""
    key = (lang, exact)
    if key not in _ANALYZERS:
        _ANALYZERS[key] = analyzer_for(lang, exact=exact)
    return _ANALYZERS[key]


_STOPTERMS: dict[tuple[str, str, bool], frozenset[str]] = {}


def stop_terms(query_lang: str | None, lang: str, exact: bool = False) -> frozenset[str]:
    """The query language's stopwords as they come out of a field's analyzer."""
    key = (query_lang or "", lang, exact)
    if key not in _STOPTERMS:
        analyzer = field_analyzer(lang, exact)
        _STOPTERMS[key] = frozenset(
            t.text for word in query_stopwords(query_lang) for t in analyzer(word, mode="query"))
    return _STOPTERMS[key]


def content_tokens(text: str, lang: str, exact: bool = False,
                   query_lang: str | None = None) -> list[tuple[str, int, int]]:
    """Distinct (term, start, end) of text as a field analyzes it, in order of appearance,
    without the query language's stopwords, at most MAX_TERMS_PER_FIELD of them."""
    stops = stop_terms(query_lang, lang, exact)
    seen: dict[str, tuple[int, int]] = {}
    for t in field_analyzer(lang, exact)(text, mode="query", chars=True):
        if t.text in stops or t.text in seen:
            continue
        if len(seen) >= MAX_TERMS_PER_FIELD:
            break
        seen[t.text] = (t.startchar, t.endchar)
    return [(term, start, end) for term, (start, end) in seen.items()]


def query_terms(text: str, lang: str, exact: bool = False, query_lang: str | None = None) -> list[str]:
    """Distinct analyzed terms of text for a field language, in order of appearance.

    The stopwords of the query's own language are dropped, unless nothing else is left.
    """
    terms = [term for term, _, _ in content_tokens(text, lang, exact, query_lang)]
    return terms or [term for term, _, _ in content_tokens(text, lang, exact)]


def _field_variants():
    for lang in FIELD_LANGUAGES:
        yield lang, False, f"title_{lang}", f"body_{lang}", 1.0
        if lang in EXACT_LANGUAGES:
            yield lang, True, f"title_{lang}_exact", f"body_{lang}_exact", EXACT_BOOST


def min_should_match(words: int) -> int:
    """How many of a query's words a document must contain: both of a two-word query, else one.

    Two words are a name or a keyword pair (Hải Phòng, ODA Laos): both must match. Longer
    queries are mostly questions that paraphrase the answer; requiring half of up to five
    words cost 1.5-3.5 points of MRR@10 on xquad-dev (zh .956→.930, ar .918→.883), so any
    word matches and BM25 ranks by how many and how rare.
    """
    return words if words <= 2 else 1


def free_text_query(text: str, query_lang: str | None = None,
                    require_words: bool = True) -> Q.Query | None:
    """Ranked OR over every field, grouped by query word so that min_should_match counts words.

    A word's Thai, Vietnamese, English ... forms (one per field analyzer) form one group.
    """
    native = field_language(query_lang) if query_lang else None
    # The query's words, as spans of the text, by the analyzer of the query's own language.
    spans = [(start, end) for _, start, end in content_tokens(text, native or "other", query_lang=query_lang)]
    groups: dict[int, list[Q.Query]] = {}
    for lang, exact, title, body, weight in _field_variants():
        if native and lang != native:
            weight *= OTHER_LANGUAGE_WEIGHT
        for term, start, end in content_tokens(text, lang, exact, query_lang):
            if exact and lang != native and fold_diacritics(term) == term:
                # Not a Vietnamese query and no diacritics typed: the folded field already
                # scores this term (counting it twice favoured Vietnamese articles for
                # English queries: en MRR@10 .957 → .948).
                continue
            word = next((i for i, (s, e) in enumerate(spans) if s < end and start < e),
                        len(spans) + len(groups))
            groups.setdefault(word, []).extend([
                Q.Term(body, term, boost=weight),
                Q.Term(title, term, boost=weight * TITLE_BOOST)])
    if not groups:
        return None
    clauses = [Q.Or(g) for g in groups.values()]
    if len(clauses) == 1:
        return clauses[0]
    minmatch = min_should_match(min(len(spans), len(clauses))) if require_words and spans else 0
    return MinShouldMatch(clauses, minmatch) if minmatch > 1 else Q.Or(clauses)


def phrase_clauses(words: list[str], lang: str, weight: float = 1.0) -> list[Q.Query]:
    """Analyzed words, in this order, in one field language's body or title (a Term for one word)."""
    if not words:
        return []
    return [Q.Term(fname, words[0], boost=weight * boost) if len(words) == 1
            else Q.Phrase(fname, words, boost=weight * boost)
            for fname, boost in ((f"body_{lang}", 1.0), (f"title_{lang}", TITLE_BOOST))]


def phrase_query(phrase: str) -> Q.Query | None:
    """The phrase in any language's body or title."""
    clauses = []
    for lang in FIELD_LANGUAGES:
        clauses += phrase_clauses([t.text for t in field_analyzer(lang)(phrase, mode="query")], lang)
    return Q.Or(clauses) if clauses else None


def build_query(parsed: ParsedQuery, query_lang: str | None = None,
                expansion: Q.Query | None = None) -> Q.Query | None:
    """The Whoosh query, or None when nothing searchable is left after analysis.

    query_lang: the language the query is written in (its stopwords are dropped).
    expansion: ranked alternatives (e.g. other-language names of the entities the query names).
    """
    ranked = [q for q in [free_text_query(parsed.text, query_lang), expansion] if q is not None]
    required = [q for q in (phrase_query(p) for p in parsed.phrases) if q is not None]
    if required:
        must = Q.And(required) if len(required) > 1 else required[0]
        result = Q.AndMaybe(must, Q.Or(ranked)) if ranked else must
    elif ranked:
        result = Q.Or(ranked) if len(ranked) > 1 else ranked[0]
    else:
        return None
    excluded = [q for q in (free_text_query(w) for w in parsed.excluded) if q is not None]
    if excluded:
        result = Q.AndNot(result, Q.Or(excluded))
    return result


def constraint_query(parsed: ParsedQuery) -> Q.Query | None:
    """What every result must satisfy whatever ranks it: the phrases, and none of the excluded words."""
    required = [q for q in (phrase_query(p) for p in parsed.phrases) if q is not None]
    excluded = [q for q in (free_text_query(w) for w in parsed.excluded) if q is not None]
    if not required and not excluded:
        return None
    base = (Q.And(required) if len(required) > 1 else required[0]) if required else Q.Every()
    return Q.AndNot(base, Q.Or(excluded)) if excluded else base
