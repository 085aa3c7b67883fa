"""Whoosh's posting pool with its spill runs written and merged in large pieces.

A segment writer collects every posting (field, term, docnum, weight, value) of a segment in a
pool and sorts them. Past `limitmb` the pool sorts what it holds and spills it to a run file;
at the end the runs are merged. whoosh3 3.54.0 pickles a run one posting at a time and merges
the runs with heapq.merge, one Python step per posting: in a reindex of 10,000 articles that
was 23% of all CPU (py-spy over the three processes). Here a run is pickled in lists of
CHUNK postings, and the merge takes from every run the postings up to the smallest last key
of the runs' loaded chunks and sorts them together (timsort merges sorted runs in C). The
postings come out in the same order, so the segment is the same.

Whoosh's pool also sorts all its postings as tuples before each spill, comparing field, term
and docnum one after the other: 7% of a 100k reindex's CPU (py-spy at d8fca4b). This pool
keeps each field's postings apart and sorts them by term alone, a comparison of two bytes. A
writer adds a document's postings after the previous document's, so a stable sort leaves each
term's postings in docnum order, as the tuple sort would; if a posting ever comes with a
smaller docnum than the one before it, the tuples are sorted whole, as Whoosh does.

CompiledPostingPool does the same in C (indexer/csegment/posting_pool.c), when it is built: the
postings grouped by term as they are added, binary runs, a heap merge; 695,000 postings of
1,500 articles pooled with spills in 0.55 s of CPU instead of 1.3 s.

Whoosh's SegmentWriter builds its pool from the module-level name whoosh.writing.PostingPool
(its `poolclass` argument is ignored), so chunked_posting_pool() swaps that name while a
writer runs; writer processes forked meanwhile inherit it.
"""
import pickle
from bisect import bisect_right
from contextlib import contextmanager
from itertools import islice
from operator import itemgetter

from whoosh import writing

CHUNK = 16384   # postings per pickled list: ~3 MB in memory, per run being merged
_POSTING_BYTES = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21    # and the texts: Whoosh's estimate
_TERM = itemgetter(1)


class ChunkedPostingPool(writing.PostingPool):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._fields: dict[str, list[tuple]] = {}     # field -> its postings, as added
        self._last_docnum = float("-inf")
        self._in_order = True       # no posting had a smaller docnum than the one before it

    def add(self, item) -> None:
        fieldname, docnum = item[0], item[2]
        postings = self._fields.get(fieldname)
        if postings is None:
            postings = self._fields[fieldname] = []
            self.fieldnames.add(fieldname)
        postings.append(item)
        if docnum < self._last_docnum:
            self._in_order = False
        self._last_docnum = docnum
        self.currentsize += _POSTING_BYTES + len(fieldname) + 2 * len(item[1]) + len(item[4] or b"")
        if self.currentsize > self.limit:
            self.save()

    def _sorted(self) -> list[tuple]:
        """Every posting held, in Whoosh's order (field, term, docnum, weight, value)."""
        out = []
        for fieldname in sorted(self._fields):
            postings = self._fields[fieldname]
            if self._in_order:
                postings.sort(key=_TERM)    # stable: a term's postings stay in docnum order
            else:
                postings.sort()
            out += postings
        return out

    def save(self) -> None:
        if self._fields:
            path, f = self._new_run()
            self._write_run(f, self._sorted())
            self._add_run(path)
            self._fields = {}
        self.currentsize = 0

    def items(self, maxfiles: int = 128):
        if not self.runs:
            return self._sorted()    # never spilled: everything is here
        return super().items(maxfiles)     # spills what is held, merges the runs

    def _write_run(self, f, items) -> None:
        # save() passes its sorted list; reduce_to() (past 128 runs) an iterator of merged postings
        items = iter(items)
        while chunk := list(islice(items, CHUNK)):
            pickle.dump(chunk, f, pickle.HIGHEST_PROTOCOL)
        f.close()

    def _read_chunks(self, path):
        f = self._open_run(path)
        try:
            while True:
                yield pickle.load(f)
        except EOFError:
            return
        finally:
            f.close()
            self._remove_run(path)

    def _read_run(self, path):
        # What SortingPool's callers expect of a run (MpWriter's single-segment commit reads them)
        for chunk in self._read_chunks(path):
            yield from chunk

    def _merge_runs(self, paths):
        # [chunk, position in it, the run's remaining chunks] for every run not yet exhausted
        runs = []
        for chunks in (self._read_chunks(path) for path in paths):
            first = next(chunks, None)
            if first:
                runs.append([first, 0, chunks])
        while runs:
            # Every posting up to the smallest last key of the loaded chunks is loaded already.
            bound = min(chunk[-1] for chunk, _, _ in runs)
            slab = []
            for run in runs:
                chunk, at, _ = run
                # the run whose chunk ends at the bound gives all of it: each pass finishes a chunk
                end = len(chunk) if chunk[-1] == bound else bisect_right(chunk, bound, at)
                slab += chunk[at:end]
                run[1] = end
            slab.sort()
            yield from slab
            live = []
            for run in runs:
                if run[1] == len(run[0]):
                    run[0], run[1] = next(run[2], None), 0
                if run[0]:
                    live.append(run)
            runs = live


class CompiledPostingPool(writing.PostingPool):
    """ChunkedPostingPool's work in C (indexer/csegment/posting_pool.c): the postings grouped by
    term as they are added, binary runs, a heap merge. The same postings in the same order."""

    def __init__(self, *args, **kwargs):
        from .csegment import load
        self._buffer = None
        super().__init__(*args, **kwargs)      # sets self.limit and self.fieldnames
        self._buffer = load().PostingBuffer(self.limit, _POSTING_BYTES, self.fieldnames, self.save)
        self.add = self._buffer.add       # Whoosh's writer calls pool.add once per posting
        self.add_field = self._buffer.add_field     # indexer/docwriter.py: a field's tokens at once

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, value) -> None:
        self._limit = int(value)          # MpWriter gives each worker a share: a float
        if self._buffer is not None:
            self._buffer.limit = self._limit

    def save(self) -> None:
        if len(self._buffer):
            path, f = self._new_run()
            self._buffer.spill(f)
            f.close()
            self._add_run(path)
        self.currentsize = 0

    def items(self, maxfiles: int = 128):
        runs = list(self.runs)
        return self._buffer.merge([self._open_run(path) for path in runs], lambda: self._done(runs))

    def _done(self, runs) -> None:
        for path in runs:
            self._remove_run(path)
        self.runs = [path for path in self.runs if path not in runs]

    def cleanup(self) -> None:
        self._done(list(self.runs))

    def _read_run(self, path):
        # MpWriter's single-segment commit merges the workers' runs itself; polysearch writes a
        # segment per worker (multisegment=True), so these runs are never read that way.
        raise NotImplementedError("CompiledPostingPool runs are binary: use multisegment writers")

    def reduce_to(self, target: int, k: int) -> None:
        raise NotImplementedError("CompiledPostingPool merges any number of runs at once")


def posting_pool_class() -> type:
    """CompiledPostingPool when indexer/csegment is built here, else ChunkedPostingPool."""
    from .csegment import load
    return CompiledPostingPool if load() is not None else ChunkedPostingPool


@contextmanager
def chunked_posting_pool():
    """Whoosh segment writers made inside this block use CompiledPostingPool, or
    ChunkedPostingPool without the C build."""
    original = writing.PostingPool
    writing.PostingPool = posting_pool_class()
    try:
        yield
    finally:
        writing.PostingPool = original
