"""Where a hybrid search's time goes: p50 timestamps of its stages, from the query's start.

    python benchmarks/hybrid_timeline.py --articles 10000 [--rounds 2]

Needs the index and vectors that benchmarks/hybrid.py leaves in .cache/bench/index-N. Runs the
query mix in lexical and hybrid mode, alternating, with the query-vector cache cleared before
each search (every hybrid search pays for the model), and marks when each stage starts or ends
by wrapping the engine's own functions in this process: the model (on its thread), the int8
product, the lexical matches, the wait for the dense list, standardization and top, fusion,
facets, and the page's end. The wrappers cost a few microseconds each. Prints one table per
mode, stages in the order of their p50; the hits' count and time per query too (snippets are
most of a page's cost).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import indexer  # noqa: E402,F401  (its OpenBLAS setting must come before numpy loads)

from benchmarks import corpus_gen  # noqa: E402
from benchmarks.scale import CACHE  # noqa: E402

# (object, function name, mark at its start or None, mark at its end or None)
STAGES = [
    ("dense.DenseEncoder", "query", "model starts", "model done"),
    ("vectors.VectorSet", "approximate_article_scores", None, "int8 product done"),
    ("engine", "filtered_matches", None, "lexical matches"),
    ("engine.SearchEngine", "_compile", None, "query compiled"),
    ("engine.SearchEngine", "_dense", "waits for the dense list", "dense list"),
    ("vectors.VectorSet", "standardize", "standardization starts", None),
    ("vectors.VectorSet", "exact_article_scores", "rescoring starts", "rescoring done"),
    ("engine", "reciprocal_rank_fusion", None, "fused"),
    ("facets.FacetTally", "facets", None, "facets counted"),
]


class Timeline:
    """Marks of one search at a time; wrap() instruments a function until restore()."""

    def __init__(self):
        self.start = 0.0
        self.marks: dict[str, float] = {}
        self.hits: list[float] = []
        self._wrapped: list[tuple[object, str, object]] = []

    def begin(self) -> None:
        self.start, self.marks, self.hits = time.perf_counter(), {}, []

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.perf_counter() - self.start)   # the first time only

    def wrap(self, owner, attr: str, before: str | None, after: str | None) -> None:
        function = getattr(owner, attr)
        self._wrapped.append((owner, attr, function))

        def wrapped(*args, **kwargs):
            if before:
                self.mark(before)
            result = function(*args, **kwargs)
            if after:
                self.mark(after)
            return result

        setattr(owner, attr, wrapped)

    def wrap_hits(self, engine_class) -> None:
        make_hit = engine_class._hit
        self._wrapped.append((engine_class, "_hit", make_hit))

        def timed_hit(engine, *args):
            started = time.perf_counter()
            hit = make_hit(engine, *args)
            self.hits.append(time.perf_counter() - started)
            return hit

        engine_class._hit = timed_hit

    def restore(self) -> None:
        for owner, attr, function in reversed(self._wrapped):
            setattr(owner, attr, function)
        self._wrapped = []


def _resolve(path: str):
    import importlib

    module, _, attribute = path.partition(".")
    owner = importlib.import_module(f"indexer.{module}")
    return getattr(owner, attribute) if attribute else owner


def measure(index_dir: Path, rounds: int, queries: list[str] | None = None) -> dict[str, dict]:
    """{mode: {queries, stages_p50_ms, hits_per_query, hit_ms_per_query_p50}} over queries
    (default: the scale suite's query mix)."""
    from indexer.dense import get_encoder
    from indexer.engine import SearchEngine
    from indexer.results import SearchRequest

    engine = SearchEngine(index_dir)
    engine.cache.enabled = False
    if engine.health()["dense"]["available"] is not True:
        raise SystemExit(f"{index_dir}: no usable vectors (run benchmarks/hybrid.py first)")
    encoder = get_encoder()
    queries = queries or [query for _, query in corpus_gen.query_mix()]
    timeline = Timeline()
    for owner, attr, before, after in STAGES:
        timeline.wrap(_resolve(owner), attr, before, after)
    timeline.wrap_hits(SearchEngine)
    runs = {mode: [] for mode in ("lexical", "hybrid")}
    try:
        for rnd in range(rounds + 1):                # round 0 warms up and is not counted
            for n, query in enumerate(queries):
                for mode in (("lexical", "hybrid") if n % 2 else ("hybrid", "lexical")):
                    encoder._queries.clear()
                    timeline.begin()
                    response = engine.search(SearchRequest(query, mode=mode))
                    timeline.mark("page done")
                    if rnd and response.mode == mode:  # name-only queries run lexically: left out
                        runs[mode].append((timeline.marks, len(timeline.hits), sum(timeline.hits)))
    finally:
        timeline.restore()
    out = {}
    for mode, rows in runs.items():
        names = {name for marks, _, _ in rows for name in marks}
        p50 = {name: 1000 * statistics.median(m[name] for m, _, _ in rows if name in m) for name in names}
        out[mode] = {"queries": len(rows), "stages_p50_ms": dict(sorted(p50.items(), key=lambda kv: kv[1])),
                     "hits_per_query": statistics.mean(h for _, h, _ in rows),
                     "hit_ms_per_query_p50": 1000 * statistics.median(t for _, _, t in rows)}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    index_dir = CACHE / f"index-{args.articles}"
    if not index_dir.exists():
        raise SystemExit(f"{index_dir} is missing: run benchmarks/scale.py and benchmarks/hybrid.py first")
    for mode, result in measure(index_dir, args.rounds).items():
        print(f"{mode}: {result['queries']} searches, {result['hits_per_query']:.1f} hits each, "
              f"{result['hit_ms_per_query_p50']:.2f} ms of hits (p50)")
        for name, ms in result["stages_p50_ms"].items():
            print(f"  {ms:7.2f} ms  {name}")


if __name__ == "__main__":
    main()
