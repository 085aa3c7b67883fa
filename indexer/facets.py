"""A query's matches under the filters, and their facet counts (language, source, year, entity).

Every match counts in the facets and the total, so the whole match set is needed, not only
the top ones: arrayscore computes it as arrays. The facet values of every document are read
once per index generation into arrays of value codes, and counting is one bincount per facet.
"""
import threading
from dataclasses import dataclass

import numpy as np
from whoosh import query as Q

from .arrayscore import Matches, NO_MATCHES, PostingCache, concatenated_ranges, matching_docnums, score_all
from .postings import range_counter

FACET_FIELDS = ("lang", "source", "year", "entities")
SINGLE_VALUED = ("lang", "source", "year")     # sortable columns
_KEEP_GENERATIONS = 2


class FacetColumns:
    """docnum → facet value code(s) for one opened index generation."""

    def __init__(self, searcher):
        reader = searcher.reader()
        self.doc_count = reader.doc_count_all()
        # name → (values, docnum → index in values); code 0 is "" (no value, or a deleted
        # document). Read from the posting list of each of the field's few values: iterating
        # the sortable column value by value made the whole build 1.1-1.3 s instead of 0.4 s
        # at 100,000 articles, paid by the first search of every new generation.
        self.single: dict[str, tuple[list, np.ndarray]] = {}
        for name in SINGLE_VALUED:
            values = [""] + [_text(v) for v in reader.field_terms(name)]
            column = np.zeros(self.doc_count, dtype=np.int32)
            for code in range(1, len(values)):
                column[matching_docnums(searcher, Q.Term(name, values[code]))] = code
            self.single[name] = (values, column)
        # The entity facet is multi-valued: one (entity code, docnum) pair per tagged article,
        # also kept grouped by document (entity_starts[d]:entity_starts[d + 1] into
        # entity_by_doc), so a query's counts read only its matches' entities: 3.3 → 0.3 ms for
        # 3,313 matches among 839,160 pairs at 100,000 articles.
        self.entity_names = [_text(e) for e in reader.field_terms("entities")]
        docs = [matching_docnums(searcher, Q.Term("entities", e)) for e in self.entity_names]
        self.entity_codes = np.repeat(np.arange(len(docs), dtype=np.int32), [len(d) for d in docs])
        self.entity_docs = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int64)
        by_doc = np.argsort(self.entity_docs, kind="stable")
        self.entity_by_doc = self.entity_codes[by_doc]
        self.entity_starts = np.zeros(self.doc_count + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.entity_docs, minlength=self.doc_count), out=self.entity_starts[1:])
        self.labels = {name: FacetLabels(values) for name, (values, _) in self.single.items()}
        self.labels["entities"] = FacetLabels(self.entity_names)

    def entity_counts(self, docs: np.ndarray) -> np.ndarray:
        """How many of docs (distinct docnums) carry each entity: in C where csegment is built
        (count_ranges, one pass over the documents' pairs: about half numpy's time at 100k
        articles, range_counts.c), else by numpy."""
        count = range_counter()
        if count is not None:
            out = np.empty(len(self.entity_names), dtype=np.int64)
            count(self.entity_starts, self.entity_by_doc, np.ascontiguousarray(docs, dtype=np.int64), out)
            return out
        starts, ends = self.entity_starts[docs], self.entity_starts[np.asarray(docs) + 1]
        if int((ends - starts).sum()) * 2 > len(self.entity_docs):   # most pairs: one pass is cheaper
            in_docs = np.zeros(self.doc_count, dtype=bool)
            in_docs[docs] = True
            codes = self.entity_codes[in_docs[self.entity_docs]]
        else:
            codes = self.entity_by_doc[concatenated_ranges(starts, ends)[0]]
        return np.bincount(codes, minlength=len(self.entity_names))


def _text(term) -> str:
    return term.decode("utf-8") if isinstance(term, bytes) else term


_COLUMNS: dict[str, FacetColumns] = {}
_LOCK = threading.Lock()


def columns_for(key: str, searcher) -> FacetColumns:
    """The generation's columns (key: its directory), built on first use."""
    with _LOCK:
        cols = _COLUMNS.get(key)
        if cols is None:
            cols = FacetColumns(searcher)
            _COLUMNS[key] = cols
            for old in list(_COLUMNS)[:-_KEEP_GENERATIONS]:
                del _COLUMNS[old]
        return cols


def _filter_parts(filters: Q.Query | None) -> list[Q.Query]:
    if filters is None:
        return []
    return list(filters.subqueries) if isinstance(filters, Q.And) else [filters]


def _allowed(searcher, parts: list[Q.Query], cache) -> np.ndarray | None:
    """Docnums every part matches (None: no parts, everything is allowed)."""
    allowed = None
    for part in parts:
        docs = matching_docnums(searcher, part, cache)
        allowed = docs if allowed is None else np.intersect1d(allowed, docs, assume_unique=True)
    return allowed


@dataclass
class FilteredMatches:
    matches: Matches          # what the filters allow, scored
    lang_docs: np.ndarray     # what the language facet counts: allowed by every filter but the language


def filtered_matches(searcher, query: Q.Query | None, filters: Q.Query | None,
                     cache: PostingCache | None = None) -> FilteredMatches:
    """The query's matches under the filters. The language facet ignores a language filter, so
    the chips still show how many results the other languages have. cache: the index's
    PostingCache."""
    everything = score_all(searcher, query, cache) if query is not None else NO_MATCHES
    parts = _filter_parts(filters)
    other = [p for p in parts if getattr(p, "fieldname", None) != "lang"]
    if len(other) == len(parts):
        matches = everything.restrict(_allowed(searcher, parts, cache))
        return FilteredMatches(matches, matches.docnums)
    lang_docs = everything.restrict(_allowed(searcher, other, cache))
    matches = lang_docs.restrict(_allowed(searcher, [p for p in parts if p not in other], cache))
    return FilteredMatches(matches, lang_docs.docnums)


class FacetLabels:
    """A facet's values by code, and what orders them in its counts: most frequent first, ties
    by the value's text. The order by text is ranked once per generation, so a query's counts
    are ordered by numpy, not by a Python sort with a key function per value (0.25 ms of a
    query at 100,000 articles, 237 entities)."""

    def __init__(self, values: list):
        self.values = np.empty(len(values), dtype=object)
        self.values[:] = values
        self.shown = np.array([bool(v) for v in values], dtype=bool)    # code 0 is "": no value
        self.text_rank = np.empty(len(values), dtype=np.int64)
        self.text_rank[sorted(range(len(values)), key=lambda i: str(values[i]))] = np.arange(len(values))

    def counted(self, counts: np.ndarray) -> dict:
        """{value: count} of the values counted, most frequent first."""
        present = np.flatnonzero(counts)
        present = present[self.shown[present]]
        present = present[np.lexsort((self.text_rank[present], -counts[present]))]
        return dict(zip(self.values[present].tolist(), counts[present].tolist()))


class FacetTally:
    """Raw facet counts that can be extended: a hybrid search counts its lexical matches while
    the model embeds the query, then adds the dense candidates the matches did not have."""

    def __init__(self, searcher, key: str, matched: np.ndarray, lang_docs: np.ndarray):
        self.cols = columns_for(key, searcher)
        self.matched, self.lang_docs = matched, lang_docs
        self.counts = {name: self._single(name, lang_docs if name == "lang" else matched)
                       for name in SINGLE_VALUED}
        self.counts["entities"] = self.cols.entity_counts(matched)
        self.total = len(matched)

    def _single(self, name: str, docs: np.ndarray) -> np.ndarray:
        values, column = self.cols.single[name]
        return np.bincount(column[docs], minlength=len(values))

    def add(self, docs: np.ndarray) -> None:
        """Count docs too (sorted distinct docnums), those already counted once."""
        new, new_lang = _missing(docs, self.matched), _missing(docs, self.lang_docs)
        for name in SINGLE_VALUED:
            self.counts[name] = self.counts[name] + self._single(name, new_lang if name == "lang" else new)
        self.counts["entities"] = self.counts["entities"] + self.cols.entity_counts(new)
        self.total += len(new)

    def facets(self) -> dict:
        """{facet: {value: count}}, most frequent first."""
        return {name: self.cols.labels[name].counted(self.counts[name]) for name in FACET_FIELDS}


def _missing(docs: np.ndarray, sorted_docs: np.ndarray) -> np.ndarray:
    """The docs not in sorted_docs (both sorted and distinct)."""
    if not len(sorted_docs):
        return docs
    at = np.minimum(np.searchsorted(sorted_docs, docs), len(sorted_docs) - 1)
    return docs[sorted_docs[at] != docs]


def facet_counts(searcher, key: str, matched: np.ndarray, lang_docs: np.ndarray) -> dict:
    """{facet: {value: count}} over the matched docnums; the language facet over lang_docs."""
    return FacetTally(searcher, key, matched, lang_docs).facets()
