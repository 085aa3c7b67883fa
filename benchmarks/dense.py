"""What dense vectors cost: embedding throughput at index time, and hybrid vs lexical query latency.

    python benchmarks/dense.py [--index .cache/eval-index] [--corpus ../shared/eval/xquad-dev] [--queries 200]

Needs an index with vectors (`make eval` builds .cache/eval-index from xquad-dev). Lexical and
hybrid run on the same queries, interleaved, so machine noise hits both alike; every query is
new to the process (the query-vector cache is cleared between runs), so hybrid pays for the
model each time. Prints a table and writes benchmarks/out/dense.json.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")

OUT_FILE = REPO_ROOT / "benchmarks" / "out" / "dense.json"


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def embedding_throughput(corpus: Path, passages: int) -> dict:
    from indexer.corpus import read_corpus
    from indexer.dense import get_encoder
    from indexer.passages import article_passages

    encoder = get_encoder()
    texts = []
    for article in read_corpus(corpus):
        if hasattr(article, "body"):
            texts += article_passages(article, encoder.token_count)
        if len(texts) >= passages:
            break
    texts = texts[:passages]
    tokens = sum(encoder.token_count(t) for t in texts)
    started = time.perf_counter()
    for i in range(0, len(texts), 16):
        encoder.passages(texts[i:i + 16])
    seconds = time.perf_counter() - started
    return {"passages": len(texts), "tokens": tokens, "seconds": round(seconds, 2),
            "passages_per_s": round(len(texts) / seconds, 2), "tokens_per_s": round(tokens / seconds, 1)}


def query_latency(index: Path, topics: list[Path], count: int) -> dict:
    from indexer.dense import get_encoder
    from indexer.engine import SearchEngine
    from indexer.results import SearchRequest
    from indexer.trec import read_topics

    engine = SearchEngine(index)
    if engine.health()["dense"]["available"] is not True:
        raise SystemExit(f"{index} has no usable vectors: {engine.health()['dense']}")
    per_file = max(1, count // len(topics))
    queries = [text for path in topics for text in list(read_topics(path).values())[:per_file]]
    encoder = get_encoder()
    engine.search(SearchRequest("warm up", mode="hybrid"))
    times = {"lexical": [], "hybrid": [], "query_embedding": []}
    for text in queries:
        for mode in ("lexical", "hybrid"):
            encoder._queries.clear()  # every hybrid search pays for the model
            started = time.perf_counter()
            engine.search(SearchRequest(text, mode=mode))
            times[mode].append((time.perf_counter() - started) * 1000)
        encoder._queries.clear()
        started = time.perf_counter()
        encoder.query(text)
        times["query_embedding"].append((time.perf_counter() - started) * 1000)
    out = {name: {"p50_ms": round(percentile(v, 50), 2), "p95_ms": round(percentile(v, 95), 2),
                  "mean_ms": round(statistics.fmean(v), 2)} for name, v in times.items()}
    out["queries"] = len(queries)
    out["hybrid_over_lexical_p50"] = round(out["hybrid"]["p50_ms"] / out["lexical"]["p50_ms"], 2)
    out["documents"] = engine.health()["documents"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=str(REPO_ROOT / ".cache" / "eval-index"))
    parser.add_argument("--corpus", default=str(REPO_ROOT.parent / "shared" / "eval" / "xquad-dev"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passages", type=int, default=96)
    args = parser.parse_args()
    corpus = Path(args.corpus)
    topics = sorted(corpus.glob("topics.*.tsv"))

    embed = embedding_throughput(corpus, args.passages)
    print(f"embedding: {embed['passages']} passages ({embed['tokens']:,} tokens) in {embed['seconds']} s = "
          f"{embed['passages_per_s']} passages/s, {embed['tokens_per_s']:,} tokens/s")
    latency = query_latency(Path(args.index), topics, args.queries)
    print(f"query latency over {latency['queries']} queries, {latency['documents']} documents (ms):")
    for name in ("lexical", "hybrid", "query_embedding"):
        row = latency[name]
        print(f"  {name:<16} p50 {row['p50_ms']:8.1f}  p95 {row['p95_ms']:8.1f}  mean {row['mean_ms']:8.1f}")
    print(f"  hybrid / lexical at p50: {latency['hybrid_over_lexical_p50']}x")
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(json.dumps({"embedding": embed, "latency": latency}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
