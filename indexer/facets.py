"""Facet counts (language, source, year, entity) over all of a query's matches.

Whoosh's grouped search reads each matching document's facet values from the
column files, one seek and read per document and facet. Here the values of every
document are read once per index generation into lists, the one scoring pass also
records which documents matched, and counting is a loop over them.
"""
import threading
from collections import Counter, defaultdict

from whoosh import query as Q
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.searching import ResultsPage

FACET_FIELDS = ("lang", "source", "year", "entities")
SINGLE_VALUED = ("lang", "source", "year")     # sortable columns
_KEEP_GENERATIONS = 2
REPLACE_EVERY = 10    # Whoosh's default


class FacetColumns:
    """docnum → facet value(s) for one opened index generation."""

    def __init__(self, reader):
        # Segment by segment: a segment where no document has a value has no column at all.
        self.single = {name: [] for name in SINGLE_VALUED}
        for leaf, _ in reader.leaf_readers():
            for name, values in self.single.items():
                if leaf.has_column(name):
                    values.extend(leaf.column_reader(name))
                else:
                    values.extend([""] * leaf.doc_count_all())
        self.entities: dict[int, list[str]] = defaultdict(list)
        for entity in reader.field_terms("entities"):
            for docnum in reader.postings("entities", entity).all_ids():
                self.entities[docnum].append(entity)


_COLUMNS: dict[str, FacetColumns] = {}
_LOCK = threading.Lock()


def columns_for(key: str, searcher) -> FacetColumns:
    """The generation's columns (key: its directory), built on first use."""
    with _LOCK:
        cols = _COLUMNS.get(key)
        if cols is None:
            cols = FacetColumns(searcher.reader())
            _COLUMNS[key] = cols
            for old in list(_COLUMNS)[:-_KEEP_GENERATIONS]:
                del _COLUMNS[old]
        return cols


def _has_field(filters: Q.Query | None, fieldname: str) -> bool:
    subs = filters.subqueries if isinstance(filters, Q.And) else [filters]
    return any(getattr(q, "fieldname", None) == fieldname for q in subs)


def _without_field(filters: Q.Query, fieldname: str) -> Q.Query | None:
    if isinstance(filters, Q.Term):
        return None if filters.fieldname == fieldname else filters
    if isinstance(filters, Q.And):
        rest = [q for q in filters.subqueries if getattr(q, "fieldname", None) != fieldname]
        if not rest:
            return None
        return rest[0] if len(rest) == 1 else Q.And(rest)
    return filters


def _sorted(counts: Counter) -> dict[str, int]:
    return dict(sorted(((k, v) for k, v in counts.items() if k), key=lambda kv: (-kv[1], str(kv[0]))))


class _TopAndDocs(TopCollector):
    """Top-k by score that also remembers every matching document (so no second pass)."""

    def __init__(self, limit: int):
        # No block skipping: it drops documents that cannot reach the top k, but every match
        # counts in the facets and the total. Matchers are still replaced every REPLACE_EVERY
        # documents, always with a minimum quality of 0, which only prunes exhausted and absent
        # parts of the tree (without it, is_active() recursing through Unions of absent terms
        # was a third of the scoring time).
        super().__init__(limit=limit, usequality=False, replace=REPLACE_EVERY)

    def _collect(self, global_docnum, score):
        self.docset.add(global_docnum)
        result = super()._collect(global_docnum, score)
        self.minscore = None     # TopCollector raises it once the heap is full: replace() would prune by it
        return result

    def results(self):
        items = sorted(self.items, reverse=True)
        return self._results([(score, -docnum) for score, docnum in items], docset=self.docset)


def scored_matches(searcher, query: Q.Query, filters: Q.Query | None, limit: int):
    """Whoosh Results: the top `limit` by score, and (results.docs()) every matching docnum."""
    top = _TopAndDocs(limit=limit)
    searcher.search_with_collector(query, FilterCollector(top, allow=filters) if filters is not None else top)
    return top.results()


def facet_counts(searcher, key: str, query: Q.Query | None, filters: Q.Query | None,
                 matched: set[int], also: set[int] = frozenset()) -> dict:
    """{facet: {value: count}} over the matched docnums plus `also` (say, dense candidates).

    The language facet ignores a language filter, so the chips still show how many
    results the other languages have (that one needs a second, unscored pass).
    """
    cols = columns_for(key, searcher)
    kept = set(matched) | set(also)
    lang_docs = kept
    if filters is not None and _has_field(filters, "lang"):
        rest = _without_field(filters, "lang")
        lang_docs = set(searcher.docs_for_query(query)) if query is not None else set()
        if rest is not None:
            lang_docs &= set(searcher.docs_for_query(rest))
        lang_docs |= set(also)
    facets = {}
    for name in SINGLE_VALUED:
        values = cols.single[name]
        facets[name] = _sorted(Counter(values[d] for d in (lang_docs if name == "lang" else kept)))
    entities = cols.entities
    facets["entities"] = _sorted(Counter(e for d in kept for e in entities.get(d, ())))
    return facets


def search_page_with_facets(searcher, key: str, query: Q.Query, filters: Q.Query | None,
                            page: int, pagelen: int) -> tuple[ResultsPage, dict]:
    """(the page of results, {facet: {value: count}}) from one scoring pass."""
    results = scored_matches(searcher, query, filters, page * pagelen)
    return ResultsPage(results, page, pagelen), facet_counts(searcher, key, query, filters, results.docs())
