"""A dense query's scoring of the passage matrix alone, int8 against float32, up to 1M articles.

    python benchmarks/dense_scoring.py [--articles 10000 100000 1000000] [--queries 30]

The part of a hybrid query that grows with the collection: every article's best-passage score
(VectorSet.cosines), its per-language standardization and the top 100 with the rescoring of
the articles near the cutoff (VectorSet.standardize, VectorSet.top). Indexing 1M articles is
out of reach here (about 3 hours), so the rows are synthetic: 2.67 passages per article (the
generated corpus's figure), unit vectors around a shared direction with an e5-like spread of
cosines, in five languages; the queries are rows moved by noise. Both ways are timed on the
same queries, alternating. Needs the int8 scorer (make install builds it). Writes
benchmarks/out/dense_scoring.json.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import indexer  # noqa: E402,F401  (its OpenBLAS setting must come before numpy loads)
import numpy as np  # noqa: E402

PASSAGES_PER_ARTICLE = 2.67
DIM = 384
LANGS = ["th", "zh", "ar", "vi", "en"]
K = 100


def synthetic_vectors(articles: int, seed: int = 0):
    """(article id per row, language per row, unit rows): a shared direction plus noise gives
    cosines of unrelated rows around 0.75, as e5's are."""
    rng = np.random.default_rng(seed)
    per_article = rng.choice([1, 2, 3, 4], size=articles, p=[0.25, 0.2, 0.2, 0.35])
    rows = int(per_article.sum())
    owner = np.repeat(np.arange(articles), per_article)
    common = rng.standard_normal(DIM).astype(np.float32)
    common /= np.linalg.norm(common)
    matrix = np.empty((rows, DIM), dtype=np.float32)
    for start in range(0, rows, 65536):
        block = rng.standard_normal((min(65536, rows - start), DIM), dtype=np.float32) * 0.03
        block += common
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        matrix[start:start + len(block)] = block
    return [f"a{i}" for i in owner], [LANGS[i % len(LANGS)] for i in owner], matrix


def measure(articles: int, queries: int) -> dict:
    from indexer import quantized
    from indexer.vectors import VectorSet

    if quantized.load_scorer() is None:
        raise SystemExit("no int8 scorer built: run `python -m indexer.quantized` (make install does)")
    ids, langs, matrix = synthetic_vectors(articles)
    with tempfile.TemporaryDirectory(dir=REPO_ROOT / ".cache") as tmp:
        VectorSet(model="synthetic", ids=ids, langs=langs, hashes=[""] * len(ids), matrix=matrix).save(Path(tmp))
        del matrix
        vectors = VectorSet.load(Path(tmp))
        rng = np.random.default_rng(1)
        picks = vectors.matrix[np.sort(rng.choice(len(ids), queries, replace=False))]
        qs = picks + 0.02 * rng.standard_normal(picks.shape).astype(np.float32)
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        times = {"int8": [], "float32": []}
        shared = []     # of the top 100, how many both ways return (near-ties may swap at the edge)
        for n, q in enumerate(np.vstack([qs[:2], qs])):      # the first two warm the pages
            tops = {}
            for way in (("int8", "float32") if n % 2 else ("float32", "int8")):
                codes = vectors.codes
                if way == "float32":
                    vectors.codes = None
                started = time.perf_counter()
                tops[way] = vectors.top(vectors.standardize(vectors.cosines(q)), K)
                elapsed = time.perf_counter() - started
                vectors.codes = codes
                if n >= 2:
                    times[way].append(elapsed)
            if n >= 2:
                shared.append(len({d for d, _ in tops["int8"]} & {d for d, _ in tops["float32"]}))
        rows = len(ids)
        del vectors
    out = {way: {"p50_ms": float(np.median(t) * 1000), "mean_ms": float(np.mean(t) * 1000)} for way, t in times.items()}
    out.update(articles=articles, rows=rows, queries=queries, top100_shared_min=min(shared),
               top100_shared_mean=float(np.mean(shared)),
               float32_mb=rows * DIM * 4 / 1e6, int8_mb=rows * (DIM + 4) / 1e6)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args(argv)
    from benchmarks.scale import OUT_DIR, code_version

    results = []
    for n in args.articles:
        r = measure(n, args.queries)
        results.append(r)
        print(f"{n:>9,} articles ({r['rows']:,} rows): float32 {r['float32']['p50_ms']:.1f} ms "
              f"({r['float32_mb']:,.0f} MB), int8 {r['int8']['p50_ms']:.1f} ms ({r['int8_mb']:,.0f} MB); "
              f"top {K}: {r['top100_shared_mean']:.1f} shared on average, {r['top100_shared_min']} at least",
              flush=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "dense_scoring.json").write_text(
        json.dumps({"commit": code_version(), "results": results}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
