"""Whoosh's posting pool with its spill runs written and merged in large pieces.

A segment writer collects every posting (field, term, docnum, weight, value) of a segment in a
pool and sorts them. Past `limitmb` the pool sorts what it holds and spills it to a run file;
at the end the runs are merged. whoosh3 3.54.0 pickles a run one posting at a time and merges
the runs with heapq.merge, one Python step per posting: in a reindex of 10,000 articles that
was 23% of all CPU (py-spy over the three processes). Here a run is pickled in lists of
CHUNK postings, and the merge takes from every run the postings up to the smallest last key
of the runs' loaded chunks and sorts them together (timsort merges sorted runs in C). The
postings come out in the same order, so the segment is the same.

Whoosh's SegmentWriter builds its pool from the module-level name whoosh.writing.PostingPool
(its `poolclass` argument is ignored), so chunked_posting_pool() swaps that name while a
writer runs; writer processes forked meanwhile inherit it.
"""
import pickle
from bisect import bisect_right
from contextlib import contextmanager
from itertools import islice

from whoosh import writing

CHUNK = 16384   # postings per pickled list: ~3 MB in memory, per run being merged


class ChunkedPostingPool(writing.PostingPool):
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


@contextmanager
def chunked_posting_pool():
    """Whoosh segment writers made inside this block use ChunkedPostingPool."""
    original = writing.PostingPool
    writing.PostingPool = ChunkedPostingPool
    try:
        yield
    finally:
        writing.PostingPool = original
