"""Every match of a query and its score, computed a posting list at a time with numpy.

Whoosh scores a query document by document: a tree of matchers advanced in Python, ~50 µs
per matching document, and the facets and the total need every match, not only the top ones.
Here the query tree is evaluated bottom-up over whole arrays instead: a term's posting list is
read block by block into numpy and scored with Whoosh's BM25F in one expression (the same
operations, so the same floats); Or, MinShouldMatch, And, AndNot, AndMaybe and
DisjunctionMax combine (docnums, scores) arrays. Sums may associate differently from
Whoosh's matcher trees, so a score can differ from Whoosh's in its last bit
(tests/test_scoring_paths.py compares every match against Whoosh).

Two differences are deliberate, both Whoosh bugs: its DisjunctionMaxMatcher scores a document
that only one side matches with the larger of both sides' *current* scores, which belong to
different documents (here a document gets the best score among the clauses it matches; Whoosh
ignores the tiebreak, and so does this); its AndNotMatcher keeps a segment's first match when
the excluded side starts before it (here an excluded word always excludes).

Query types this module does not know (phrases, ranges ...) get Whoosh's matcher, walked
document by document: slower, never different. It reads whoosh3's term infos and posting
blocks directly (whoosh3 is pinned to one version); a segment whose reader does not have
that shape is walked the Whoosh way too.
"""
from dataclasses import dataclass
from math import log

import numpy as np
from whoosh import query as Q
from whoosh.codec.whoosh3 import W3TermsReader
from whoosh.formats import Positions
from whoosh.reading import SegmentReader, TermNotFound
from whoosh.scoring import BM25F

from .minmatch import MinShouldMatch
from .postings import PostingCache, consecutive_checker, field_lengths, read_postings, read_values
from .segmentreads import term_info

_NO_DOCS = np.zeros(0, dtype=np.int64)


@dataclass
class Matches:
    """Matching docnums (sorted, unique) and their scores."""
    docnums: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.docnums)

    def top(self, k: int) -> list[tuple[float, int]]:
        """The best k as (score, docnum), by score, ties by docnum (as Whoosh's TopCollector)."""
        n = len(self.docnums)
        if k <= 0 or not n:
            return []
        negated = -self.scores
        if k < n:
            kth = np.partition(negated, k - 1)[k - 1]
            candidates = np.flatnonzero(negated <= kth)   # every tie of the k-th is a candidate
        else:
            candidates = np.arange(n)
        order = candidates[np.lexsort((self.docnums[candidates], negated[candidates]))][:k]
        return [(float(s), int(d)) for s, d in zip(self.scores[order], self.docnums[order])]

    def restrict(self, allowed: np.ndarray | None) -> "Matches":
        """Only the docnums in `allowed` (sorted unique docnums; None: no restriction)."""
        if allowed is None:
            return self
        keep = np.isin(self.docnums, allowed, assume_unique=True)
        return Matches(self.docnums[keep], self.scores[keep])


NO_MATCHES = Matches(_NO_DOCS, np.zeros(0))


def score_all(searcher, query: Q.Query, cache: "PostingCache | None" = None) -> Matches:
    """Every document matching query, with its score. cache: long posting lists of this
    searcher's index, decoded (see PostingCache)."""
    return _Evaluator(searcher, scored=True, cache=cache).evaluate(query)


def matching_docnums(searcher, query: Q.Query, cache: "PostingCache | None" = None) -> np.ndarray:
    """Sorted docnums of the documents matching query, unscored (for filters)."""
    return _Evaluator(searcher, scored=False, cache=cache).evaluate(query).docnums


class _Evaluator:
    def __init__(self, searcher, scored: bool, cache: PostingCache | None = None):
        self.searcher = searcher
        self.scored = scored
        self.cache = cache
        self.schema = searcher.schema
        self.leaves = searcher.leaf_searchers()
        self.doc_count = searcher.doc_count_all()
        weighting = searcher.weighting
        self.bm25 = weighting if type(weighting) is BM25F else None

    def evaluate(self, q: Q.Query) -> Matches:
        kind = type(q)
        if kind is Q.Term:
            return self._term(q)
        if kind in (Q.Or, MinShouldMatch, Q.And, Q.DisjunctionMax):
            subs = list(q.subqueries)
            if not subs:
                return NO_MATCHES
            if len(subs) == 1:       # as CompoundQuery.matcher: the one child, without the boost
                return self.evaluate(subs[0])
            children = [self.evaluate(s) for s in subs]
            size = self.doc_count
            if kind is Q.Or:
                found = _sum_union(children, 1, size)
            elif kind is MinShouldMatch:
                found = _sum_union(children, q.minmatch, size)
            elif kind is Q.And:
                found = _sum_union(children, len(children), size)
            else:
                found = _max_union(children, size)
            return self._boosted(found, q.boost)
        if kind is Q.AndNot:
            return _without(self.evaluate(q.a), matching_docnums(self.searcher, q.b, self.cache))
        if kind is Q.AndMaybe:
            return _plus_where_present(self.evaluate(q.a), self.evaluate(q.b))
        if q is Q.NullQuery or kind is type(Q.NullQuery):
            return NO_MATCHES
        if kind is Q.Every and q.fieldname in (None, "", "*"):
            return self._every(q)
        if kind is Q.Phrase and q.slop == 1 and len(q.words) > 1:
            return self._phrase(q)
        return self._walk(q)

    def _boosted(self, found: Matches, boost: float) -> Matches:
        if boost == 1.0 or not self.scored:
            return found
        return Matches(found.docnums, found.scores * boost)

    # -- terms -------------------------------------------------------------------
    def _term(self, q: Q.Term) -> Matches:
        field = self.schema[q.fieldname] if q.fieldname in self.schema else None
        if field is None:
            return NO_MATCHES
        try:
            btext = field.to_bytes(q.text)
        except ValueError:
            return NO_MATCHES
        scored = self.scored and field.scorable
        if self.scored and not (field.scorable and self.bm25 is not None):
            return self._walk(q)      # another scorer: Whoosh's own
        found = self._postings(q.fieldname, btext)
        if found is None:
            return self._walk(q)      # not the segment format this module reads
        doc_frequency, postings = found
        if not postings:
            return NO_MATCHES
        parts = []
        for leaf, docnums, tfs in postings:
            subsearcher, offset = self.leaves[leaf]
            if scored:
                scores = self._bm25(q.fieldname, tfs, subsearcher.reader(), docnums, doc_frequency)
                if q.boost != 1.0:
                    scores = scores * q.boost
            else:
                scores = np.zeros(len(docnums))
            parts.append((docnums + offset, scores))
        if len(parts) == 1:
            return Matches(*parts[0])
        return Matches(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    def _postings(self, fieldname: str, btext: bytes):
        """(the term's document frequency, [(leaf, docnums, term frequencies)] of the segments
        that have it, without deleted documents), or None for a segment format we do not read."""
        key = (fieldname, btext)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                doc_frequency, postings = cached
                return doc_frequency, [(leaf, docnums.astype(np.int64), tfs.astype(np.float64))
                                       for leaf, docnums, tfs in postings]
        postings = []
        doc_frequency = 0
        for leaf, (subsearcher, _) in enumerate(self.leaves):
            reader = subsearcher.reader()
            if type(reader) is not SegmentReader or type(reader._terms) is not W3TermsReader:
                return None
            if self.cache is not None and not self.cache.presence(reader).may_have(fieldname, btext):
                continue
            try:
                info = term_info(reader, fieldname, btext)
            except (KeyError, TermNotFound):
                continue
            doc_frequency += info.doc_frequency()
            docnums, tfs = read_postings(reader, fieldname, info)
            deleted = reader.deleted_docs_set
            if deleted:
                keep = ~np.isin(docnums, np.fromiter(deleted, dtype=np.int64))
                docnums, tfs = docnums[keep], tfs[keep]
            postings.append((leaf, docnums, tfs))
        if self.cache is not None:
            self.cache.offer(key, doc_frequency, postings)
        return doc_frequency, postings

    def _phrase(self, q: Q.Phrase) -> Matches:
        """Documents with the words at consecutive positions (Whoosh's Phrase with slop 1: a
        SpanNear2 over the words' Terms), scored as the sum of the words' BM25 scores in
        make_binary_tree's order. The words' posting lists (cached when long) are intersected
        as arrays; only the documents having all of them have their positions read, from the
        blocks that hold them (read_values)."""
        field = self.schema[q.fieldname] if q.fieldname in self.schema else None
        if field is None or not field.format or not field.format.supports("positions") \
                or (self.scored and not (field.scorable and self.bm25 is not None)):
            return self._walk(q)      # Whoosh's own: degrades or raises, or another scorer
        try:
            btexts = [field.to_bytes(w) for w in q.words]
        except ValueError:
            return NO_MATCHES
        found = {btext: self._postings(q.fieldname, btext) for btext in btexts}
        if any(f is None for f in found.values()):
            return self._walk(q)      # not the segment format this module reads
        doc_frequency = {btext: f[0] for btext, f in found.items()}   # idf counts every segment
        in_leaf = {btext: {leaf: (docnums, tfs) for leaf, docnums, tfs in f[1]} for btext, f in found.items()}
        per_leaf = []                 # (leaf, docnums, [term frequencies per word])
        for leaf, (subsearcher, _) in enumerate(self.leaves):
            lists = [in_leaf[btext].get(leaf) for btext in btexts]
            if any(found_here is None for found_here in lists):
                continue
            docnums, picked = _intersect([docs for docs, _ in lists])
            if not len(docnums):
                continue
            reader = subsearcher.reader()
            values = {btext: read_values(reader, q.fieldname, term_info(reader, q.fieldname, btext), docnums)
                      for btext in dict.fromkeys(btexts)}
            keep = _consecutive_docs(field.format, [values[btext] for btext in btexts])
            if keep:
                per_leaf.append((leaf, docnums[keep], [tfs[at[keep]] for (_, tfs), at in zip(lists, picked)]))
        parts = []
        for leaf, docnums, tfs in per_leaf:
            subsearcher, offset = self.leaves[leaf]
            scores = np.zeros(len(docnums))
            if self.scored:
                reader = subsearcher.reader()
                word_scores = [self._bm25(q.fieldname, tf, reader, docnums, doc_frequency[btext])
                               for btext, tf in zip(btexts, tfs)]
                scores = _binary_tree_sum(word_scores)
                if q.boost != 1.0:
                    scores = scores * q.boost
            parts.append((docnums + offset, scores))
        if not parts:
            return NO_MATCHES
        return Matches(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    def _bm25(self, fieldname, tf, reader, docnums, doc_frequency) -> np.ndarray:
        """whoosh.scoring.BM25FScorer, operation for operation, so that the floats are the same."""
        searcher, weighting = self.searcher, self.bm25
        idf = log(searcher.doc_count_all() / (doc_frequency + 1)) + 1
        avgfl = searcher.avg_field_length(fieldname) or 1
        B = weighting._field_B.get(fieldname, weighting.B)
        K1 = weighting.K1
        fl = field_lengths(reader, fieldname, docnums)
        return idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))

    def _every(self, q) -> Matches:
        parts = []
        for subsearcher, offset in self.leaves:
            reader = subsearcher.reader()
            docnums = np.arange(reader.doc_count_all(), dtype=np.int64)
            if reader.has_deletions():
                docnums = np.fromiter(reader.all_doc_ids(), dtype=np.int64)
            parts.append(docnums + offset)
        docnums = np.concatenate(parts) if parts else _NO_DOCS
        return Matches(docnums, np.full(len(docnums), float(q.boost) if self.scored else 0.0))

    def _walk(self, q: Q.Query) -> Matches:
        """Whoosh's matcher for q, segment by segment, document by document."""
        searcher = self.searcher
        context = searcher.context(needs_current=True) if self.scored else searcher.boolean_context()
        ids, scores = [], []
        for subsearcher, offset in self.leaves:
            m = q.matcher(subsearcher, context)
            while m.is_active():
                ids.append(m.id() + offset)
                scores.append(m.score() if self.scored else 0.0)
                m.next()
        if not ids:
            return NO_MATCHES
        return Matches(np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64))


def _intersect(lists: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(docnums in every list, for each list the indices of those docnums in it)."""
    common = lists[0]
    for other in lists[1:]:
        common = np.intersect1d(common, other, assume_unique=True)
    return common, [np.searchsorted(docnums, common) for docnums in lists]


def _consecutive_docs(fmt, values: list[list]) -> list[int]:
    """The documents (indexes into each word's values) where the words are consecutive:
    csegment's consecutive_docs (phrase.c) for Whoosh's Positions encoding, else _consecutive."""
    check = consecutive_checker() if type(fmt).decode_positions is Positions.decode_positions else None
    mask = check(values) if check is not None else None
    if mask is not None:
        return np.flatnonzero(np.frombuffer(mask, dtype=np.uint8)).tolist()
    return [i for i in range(len(values[0])) if _consecutive(fmt, [word[i] for word in values])]


def _consecutive(fmt, values: list) -> bool:
    """Do the words occur one right after another in a document? values: each word's encoded
    positions there, in the phrase's order."""
    starts = fmt.decode_positions(values[0])
    for k in range(1, len(values)):
        here = set(fmt.decode_positions(values[k]))
        starts = [s for s in starts if s + k in here]
        if not starts:
            return False
    return True


def _binary_tree_sum(parts: list[np.ndarray]) -> np.ndarray:
    """a + b over make_binary_tree's halves, as IntersectionMatchers add their children."""
    if len(parts) == 1:
        return parts[0]
    half = len(parts) // 2
    return _binary_tree_sum(parts[:half]) + _binary_tree_sum(parts[half:])


def sorted_union(arrays: list[np.ndarray]) -> np.ndarray:
    """The sorted distinct values of int arrays: a sort and one comparison. numpy 2's np.unique
    (and np.union1d) hash first: 744 against 54 µs for four lists of 1,500 docnums."""
    if not arrays:
        return _NO_DOCS
    merged = np.concatenate(arrays) if len(arrays) > 1 else np.array(arrays[0])
    merged.sort()
    if len(merged) < 2:
        return merged
    keep = np.empty(len(merged), dtype=bool)
    keep[0] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


def concatenated_ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(every index of the ranges [starts[i], ends[i]), range after range; where each range
    begins in that array): the rows of some articles, the entities of some documents."""
    lengths = np.asarray(ends) - np.asarray(starts)
    first = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts) - first, lengths) + np.arange(int(lengths.sum())), first


def _union_docnums(present: list[Matches], size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(sorted docnums matched by any, None) or, when they are many, (a mask over all `size`
    docnums, the positions of a dense accumulator): a sort was a tenth of the time at 100k
    articles, flatnonzero over a mask is linear."""
    if sum(len(c) for c in present) * 16 < size:
        return sorted_union([c.docnums for c in present]), None
    mask = np.zeros(size, dtype=bool)
    for c in present:
        mask[c.docnums] = True
    return np.flatnonzero(mask), mask


def _positions(docnums: np.ndarray, dense, child: Matches):
    return child.docnums if dense is not None else np.searchsorted(docnums, child.docnums)


def _sum_union(children: list[Matches], minimum: int, size: int) -> Matches:
    """Documents matched by at least `minimum` children; score: the sum of theirs, in order."""
    present = [c for c in children if len(c)]
    if len(present) < minimum:
        return NO_MATCHES
    if len(present) == 1:
        return present[0]
    docnums, dense = _union_docnums(present, size)
    slots = size if dense is not None else len(docnums)
    total = np.zeros(slots)
    counts = np.zeros(slots, dtype=np.int32) if minimum > 1 else None
    for c in present:
        at = _positions(docnums, dense, c)
        total[at] += c.scores               # 0.0 + s is s; docnums are unique within a child
        if counts is not None:
            counts[at] += 1
    if dense is not None:
        total = total[docnums]
        counts = counts[docnums] if counts is not None else None
    if counts is None:
        return Matches(docnums, total)
    keep = counts >= minimum
    return Matches(docnums[keep], total[keep])


def _max_union(children: list[Matches], size: int) -> Matches:
    present = [c for c in children if len(c)]
    if not present:
        return NO_MATCHES
    if len(present) == 1:
        return present[0]
    docnums, dense = _union_docnums(present, size)
    best = np.full(size if dense is not None else len(docnums), -np.inf)
    for c in present:
        at = _positions(docnums, dense, c)
        best[at] = np.maximum(best[at], c.scores)
    return Matches(docnums, best[docnums] if dense is not None else best)


def _without(a: Matches, excluded: np.ndarray) -> Matches:
    if not len(excluded) or not len(a):
        return a
    keep = ~np.isin(a.docnums, excluded, assume_unique=True)
    return Matches(a.docnums[keep], a.scores[keep])


def _plus_where_present(a: Matches, b: Matches) -> Matches:
    if not len(b) or not len(a):
        return a
    _, ia, ib = np.intersect1d(a.docnums, b.docnums, assume_unique=True, return_indices=True)
    scores = a.scores.copy()
    scores[ia] = a.scores[ia] + b.scores[ib]
    return Matches(a.docnums, scores)


__all__ = ["Matches", "NO_MATCHES", "PostingCache", "matching_docnums", "score_all", "sorted_union"]
