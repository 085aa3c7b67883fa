"""Minimum-should-match for Whoosh: at least m of n sub-queries must match a document.

Whoosh's Or(minmatch=...) is documented as "not yet implemented", so this is a
small k-way merge over the sub-matchers: a document is a hit when m of them
are on it, and its score is the sum of theirs (the same as Or's).
"""
from whoosh import matching
from whoosh import query as Q


class MinShouldMatch(Q.Or):
    """Or that requires `minmatch` of its subqueries to match."""

    def __init__(self, subqueries, minmatch: int, boost: float = 1.0):
        super().__init__(subqueries, boost=boost)
        self.minmatch = minmatch

    def normalize(self):
        # Keep the grouping: flattening nested Ors (as Or.normalize does) would change what counts.
        subs = [q.normalize() for q in self.subqueries]
        subs = [q for q in subs if q is not Q.NullQuery]
        if len(subs) < self.minmatch:
            return Q.NullQuery
        return self.__class__(subs, self.minmatch, boost=self.boost)

    def _matcher(self, subs, searcher, context):
        matchers = [q.matcher(searcher, context) for q in subs]
        matchers = [m for m in matchers if m.is_active()]
        if len(matchers) < self.minmatch:
            return matching.NullMatcher()
        return MinMatchMatcher(matchers, self.minmatch, self.boost)


class MinMatchMatcher(matching.Matcher):
    def __init__(self, matchers, minmatch: int, boost: float = 1.0):
        self.matchers = matchers
        self.minmatch = minmatch
        self.boost = boost
        self._id = None
        self._find()

    def _active(self):
        return [m for m in self.matchers if m.is_active()]

    def _find(self):
        """Advance to the next document matched by at least minmatch sub-matchers."""
        while True:
            active = self._active()
            if len(active) < self.minmatch:
                self._id = None
                return
            doc = min(m.id() for m in active)
            if sum(1 for m in active if m.id() == doc) >= self.minmatch:
                self._id = doc
                return
            for m in active:
                if m.id() == doc:
                    m.next()

    def is_active(self):
        return self._id is not None

    def id(self):
        return self._id

    def score(self):
        return self.boost * sum(m.score() for m in self.matchers
                                if m.is_active() and m.id() == self._id)

    def next(self):
        for m in self._active():
            if m.id() == self._id:
                m.next()
        self._find()

    def skip_to(self, id):
        if self._id is None or id <= self._id:
            return
        for m in self._active():
            if m.id() < id:
                m.skip_to(id)
        self._find()

    def children(self):
        return list(self.matchers)

    def replace(self, minquality=0):
        """Drop exhausted children and let the rest simplify themselves (a tree of Unions over
        many absent terms is most of a query's matcher). Never by quality: the minimum-match
        count needs every child that can still match."""
        if self._id is None:
            return matching.NullMatcher()
        self.matchers = [m for m in (m.replace(0) for m in self.matchers) if m.is_active()]
        return self

    def copy(self):
        return MinMatchMatcher([m.copy() for m in self.matchers], self.minmatch, self.boost)

    def supports_block_quality(self):
        return False

    def max_quality(self):
        """Upper bound of any score (parents use it to prune); sum of the children's bounds."""
        total = 0.0
        for m in self._active():
            try:
                total += m.max_quality()
            except matching.NoQualityAvailable:
                return float("inf")
        return self.boost * total

    def matching_terms(self, id=None):
        id = self._id if id is None else id
        for m in self._active():
            if m.id() == id:
                yield from m.matching_terms(id)

    def spans(self):
        return [s for m in self._active() if m.id() == self._id for s in m.spans()]

    def reset(self):
        for m in self.matchers:
            m.reset()
        self._find()

    def weight(self):
        return sum(m.weight() for m in self.matchers if m.is_active() and m.id() == self._id)
