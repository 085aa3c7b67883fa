"""The scale benchmarks of issue 6: indexing, query latency, HTTP, memory, at N articles.

    python benchmarks/scale.py --articles 10000 100000 [--rounds 3] [--http-seconds 15]

For each N, on a generated corpus (benchmarks/corpus_gen.py, cached in .cache/bench/),
every figure is measured side by side in the same run and reported as a ratio:

1. indexing: a full rebuild (build_index, 2 worker processes) vs the pure tokenization of
   the same texts by the same analyzers, spread over the same cores (the floor);
2. query latency, in-process: p50/p95/p99 of SearchEngine.search (a page of 10 with
   snippets and facets) and .retrieve (top-10 ids) over the fixed query mix, vs tantivy-py
   indexing the same tokens (benchmarks/tantivy_ref.py) and answering the same query, query
   analysis included on both sides (a tantivy user would need it too): .retrieve against
   tantivy's top 10, .search against tantivy's page (top 10, total, facet counts, snippets);
4. HTTP: requests/s of `polysearch serve` (2 workers) under wrk on 127.0.0.1 vs the
   in-process rate of .search × 2 workers (and, for reference, vs 2 in-process search loops
   really running at once);
5. memory: peak RSS of the server processes after the load, index bytes per article.

Prints a table and writes benchmarks/out/scale-<N>.json; benchmarks/report.py
renders all of them as the table in BENCHMARKS.md.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import corpus_gen  # noqa: E402
from benchmarks.tantivy_ref import TantivyIndex, join_tokens  # noqa: E402

CACHE = Path(os.environ.get("POLYSEARCH_CACHE_DIR", REPO_ROOT / ".cache")) / "bench"
OUT_DIR = REPO_ROOT / "benchmarks" / "out"
PROCS = 2
CHUNK = 200


def code_version() -> str:
    """The commit measured ("-dirty" with uncommitted changes), for the results' provenance."""
    import subprocess

    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary_ms(values: list[float]) -> dict:
    return {"p50": percentile(values, 50) * 1000, "p95": percentile(values, 95) * 1000,
            "p99": percentile(values, 99) * 1000, "mean": statistics.fmean(values) * 1000,
            "n": len(values)}


def machine() -> dict:
    """What the figures were measured on. The CPU matters beyond its speed: the query model's
    matmul uses AMX where the CPU has it and AVX-VNNI or AVX-512 VNNI elsewhere
    (indexer/e5kernel), and the int8 scorer AVX-512 VNNI or AVX2 (indexer/quantized)."""
    cpu, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not cpu:
                    cpu = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "cpu": cpu or platform.machine(), "isa": sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})}


# -- 1. tokenization floor (in worker processes) -----------------------------------
_ANALYZERS = {}


def _analyzer(lang: str, exact: bool):
    from analyzers import analyzer_for

    key = (lang, exact)
    if key not in _ANALYZERS:
        _ANALYZERS[key] = analyzer_for(lang, exact=exact)
    return _ANALYZERS[key]


def _text_fields(article) -> dict[str, tuple[str, str, bool]]:
    """The indexed text fields of an article as build.document_fields fills them."""
    from analyzers import EXACT_LANGUAGES, field_language

    flang = field_language(article.lang)
    fields = {f"body_{flang}": (article.body, flang, False)}
    if not article.title_derived:
        fields[f"title_{flang}"] = (article.title, flang, False)
    if flang in EXACT_LANGUAGES:
        fields[f"body_{flang}_exact"] = (article.body, flang, True)
        if not article.title_derived:
            fields[f"title_{flang}_exact"] = (article.title, flang, True)
    return fields


def tokenize_chunk(articles, keep: bool = True) -> tuple[float, list[tuple[str, dict[str, str], dict]]]:
    """(seconds spent in the analyzers, [(id, {field: tokens}, what tantivy's page shows)] or []
    unless keep) for a chunk of articles."""
    from indexer.build import tag_entities

    spent, out = 0.0, []
    for article in articles:
        fields = {}
        for name, (text, lang, exact) in _text_fields(article).items():
            analyzer = _analyzer(lang, exact)
            started = time.perf_counter()
            tokens = [t.text for t in analyzer(text, positions=True, mode="index")]
            spent += time.perf_counter() - started
            fields[name] = tokens
        if not keep:
            continue
        doc = {k: join_tokens(v) for k, v in fields.items()}
        entities = tag_entities(article)        # not tokenization: outside the timed part
        if entities:
            doc["entities"] = join_tokens(entities)
        out.append((article.id, doc, page_fields(article, entities)))
    return spent, out


def page_fields(article, entities: list[str]) -> dict:
    """The title and facet values of an article as our index has them, for tantivy's page()."""
    from indexer.build import article_date

    when = article_date(article)
    page = {"title": article.title, "lang": article.lang or "", "source": article.source or "",
            "year": str(when.year) if when else "", "entity": sorted(set(entities))}
    return {name: value for name, value in page.items() if value}


def _warm_worker() -> None:
    import analyzers

    analyzers.initialize()


def tokenization_floor(articles, keep: bool = True) -> tuple[dict, list]:
    chunks = [articles[i:i + CHUNK] for i in range(0, len(articles), CHUNK)]
    seconds, docs = 0.0, []
    with ProcessPoolExecutor(PROCS, initializer=_warm_worker) as pool:
        for spent, out in pool.map(tokenize_chunk, chunks, [keep] * len(chunks)):
            seconds += spent
            docs.extend(out)
    return {"cpu_seconds": seconds, "seconds_on_cores": seconds / PROCS, "procs": PROCS}, docs


def measure_indexing(corpus_dir: Path, index_dir: Path, articles) -> tuple[dict, list]:
    """The reindex between two measurements of the floor, divided by their mean: the machine's
    speed drifts over the minutes a 100k reindex takes (one floor measured before it came out
    24% slower than the evening before on the same code), and a drift shows as the two floors'
    difference instead of moving the ratio."""
    from indexer.build import build_index

    before, docs = tokenization_floor(articles)
    import shutil

    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    # Lexical only: embedding every article is measured apart (benchmarks/hybrid.py).
    summary = build_index(corpus_dir, index_dir, rebuild=True, procs=PROCS, vectors=False)
    wall = time.perf_counter() - started
    if summary.documents != len(articles):
        raise RuntimeError(f"indexed {summary.documents} of {len(articles)} articles")
    after, _ = tokenization_floor(articles, keep=False)
    cpu = (before["cpu_seconds"] + after["cpu_seconds"]) / 2
    floor = {"cpu_seconds": cpu, "seconds_on_cores": cpu / PROCS, "procs": PROCS,
             "before_seconds_on_cores": before["seconds_on_cores"],
             "after_seconds_on_cores": after["seconds_on_cores"]}
    return {"floor": floor, "index_seconds": wall,
            "ratio_vs_floor": wall / floor["seconds_on_cores"],
            "ratio_vs_one_core_floor": wall / floor["cpu_seconds"],
            "articles_per_s": len(articles) / wall}, docs


# -- 2. query latency ---------------------------------------------------------------
def measure_queries(index_dir: Path, docs, tantivy_dir: Path, rounds: int) -> dict:
    from indexer.engine import SearchEngine
    from indexer.results import SearchRequest

    started = time.perf_counter()
    ref = TantivyIndex(tantivy_dir)
    for doc_id, fields, page in docs:
        ref.add(doc_id, fields, page)
    ref.commit()
    tantivy_build = time.perf_counter() - started

    engine = SearchEngine(index_dir)
    mix = corpus_gen.query_mix()
    no_cache = getattr(engine, "cache", None)
    if no_cache is not None:
        engine.cache.enabled = False        # latency of the work itself, not of a cache hit
    times = {"search": [], "retrieve": [], "tantivy": [], "tantivy_engine_only": [], "tantivy_page": []}
    hits = {"ours": 0, "tantivy": 0}
    for rnd in range(rounds + 1):          # round 0 warms caches and is not counted
        for _, q in mix:
            t0 = time.perf_counter()
            response = engine.search(SearchRequest(query=q, size=10, mode="lexical"))
            t1 = time.perf_counter()
            engine.retrieve(q, k=10, mode="lexical")
            t2 = time.perf_counter()
            compiled = engine._compile(q).query
            t3 = time.perf_counter()
            ids = ref.search(ref.translate(compiled), 10) if compiled is not None else []
            t4 = time.perf_counter()
            compiled = engine._compile(q).query        # analysis again: the page pays for it too
            if compiled is not None:
                ref.page(ref.translate(compiled), 10)
            t5 = time.perf_counter()
            if rnd:
                times["search"].append(t1 - t0)
                times["retrieve"].append(t2 - t1)
                times["tantivy"].append(t4 - t2)
                times["tantivy_engine_only"].append(t4 - t3)
                times["tantivy_page"].append(t5 - t4)
                hits["ours"] += bool(response.results)
                hits["tantivy"] += bool(ids)
    postings = engine.generation.postings
    out_cache = {"bytes": postings.bytes, "hits": postings.hits, "misses": postings.misses}
    # The same mix once more with the posting cache emptied before every query: what a query
    # costs when none of its long lists has been decoded by an earlier one.
    times["search_cold_postings"] = []
    for _, q in mix:
        postings.clear()
        t0 = time.perf_counter()
        engine.search(SearchRequest(query=q, size=10, mode="lexical"))
        times["search_cold_postings"].append(time.perf_counter() - t0)
    out = {name: summary_ms(values) for name, values in times.items()}
    out["posting_cache"] = out_cache
    out["queries"] = len(mix)
    out["rounds"] = rounds
    out["queries_with_hits"] = {k: v / (len(mix) * rounds) for k, v in hits.items()}
    out["tantivy_build_seconds"] = tantivy_build
    out["tantivy_index_bytes"] = ref.disk_bytes()
    out["ratio_p50_search_vs_tantivy"] = out["search"]["p50"] / out["tantivy"]["p50"]
    out["ratio_p50_retrieve_vs_tantivy"] = out["retrieve"]["p50"] / out["tantivy"]["p50"]
    out["ratio_p50_search_vs_tantivy_page"] = out["search"]["p50"] / out["tantivy_page"]["p50"]
    out["ratio_p99_vs_p50_search"] = out["search"]["p99"] / out["search"]["p50"]
    out["ratio_p50_cold_postings_vs_tantivy"] = out["search_cold_postings"]["p50"] / out["tantivy"]["p50"]
    out["inprocess_search_per_s"] = 1000 / out["search"]["mean"]
    return out


def _search_loop(index_dir: str, seconds: float, offset: int, barrier, rates) -> None:
    """One process of measure_parallel_inprocess: warm on the mix, then search it from
    `offset` on for `seconds`, once every process is warm."""
    from indexer.engine import SearchEngine
    from indexer.results import SearchRequest

    engine = SearchEngine(index_dir)
    engine.cache.enabled = False
    mix = [q for _, q in corpus_gen.query_mix()]
    for q in mix:
        engine.search(SearchRequest(query=q, size=10, mode="lexical"))
    barrier.wait()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        engine.search(SearchRequest(query=mix[(offset + done) % len(mix)], size=10, mode="lexical"))
        done += 1
    rates.put(done / (time.perf_counter() - started))


def measure_parallel_inprocess(index_dir: Path, seconds: float, procs: int = PROCS) -> dict:
    """searches/s of `procs` in-process search loops running at once, each in its own process:
    what the server's workers could reach with no HTTP at all. Item 4 divides by procs × one
    loop's rate, which assumes a second process costs the first nothing; here two loops at once
    gave from 70% to 140% of it over four runs, and by hand at 100k each ran 1.2-1.6x slower
    than one alone (shared caches and memory, and a machine shared with others)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    barrier, rates = ctx.Barrier(procs), ctx.Queue()
    mix_size = len(corpus_gen.query_mix())
    workers = [ctx.Process(target=_search_loop, args=(str(index_dir), seconds, i * mix_size // procs, barrier, rates))
               for i in range(procs)]
    for w in workers:
        w.start()
    each = [rates.get(timeout=seconds + 600) for _ in workers]
    for w in workers:
        w.join()
    return {"processes": procs, "seconds": seconds, "searches_per_s": sum(each),
            "each_per_s": [round(r, 2) for r in each]}


def index_bytes(index_dir: Path) -> int:
    from indexer import store

    gen = store.generation_dir(index_dir, store.current_generation(index_dir))
    return sum(p.stat().st_size for p in gen.iterdir() if p.is_file())


def run(n: int, args) -> dict:
    from benchmarks import http_load

    corpus_dir = corpus_gen.generate(n, CACHE / f"corpus-{n}", seed=args.seed)
    from indexer.article import Article
    from indexer.corpus import read_corpus

    articles = [a for a in read_corpus(corpus_dir) if isinstance(a, Article)]
    result = {"articles": n, "seed": args.seed, "chars": sum(len(a.title) + len(a.body) for a in articles)}
    index_dir = CACHE / f"index-{n}"
    previous = OUT_DIR / f"scale-{n}.json"
    if args.reuse_index and (index_dir / "CURRENT").exists() and previous.exists():
        # Query-side changes only: the last run's indexing figures, said so in the output.
        print(f"[{n}] tokenizing for tantivy (reusing the index) ...", file=sys.stderr, flush=True)
        _, docs = tokenization_floor(articles)
        old = json.loads(previous.read_text(encoding="utf-8"))
        result["indexing"] = dict(old["indexing"], carried_over_from=old.get("finished"))
        if "hybrid" in old:
            result["hybrid"] = dict(old["hybrid"], carried_over_from=old.get("finished"))
    else:
        print(f"[{n}] indexing ...", file=sys.stderr, flush=True)
        result["indexing"], docs = measure_indexing(corpus_dir, index_dir, articles)
    del articles
    print(f"[{n}] queries ...", file=sys.stderr, flush=True)
    result["query"] = measure_queries(index_dir, docs, CACHE / f"tantivy-{n}", args.rounds)
    del docs
    result["index_bytes"] = index_bytes(index_dir)
    result["index_bytes_per_article"] = result["index_bytes"] / n
    if args.http_seconds:
        print(f"[{n}] http ...", file=sys.stderr, flush=True)
        http = http_load.measure(index_dir, corpus_gen.query_mix(), args.http_seconds, workers=PROCS)
        http["ratio_vs_inprocess"] = http["requests_per_s"] / (result["query"]["inprocess_search_per_s"] * PROCS)
        parallel = measure_parallel_inprocess(index_dir, args.http_seconds)
        http["parallel_inprocess"] = parallel
        http["ratio_vs_parallel_inprocess"] = http["requests_per_s"] / parallel["searches_per_s"]
        result["http"] = http
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the query mix")
    parser.add_argument("--http-seconds", type=int, default=15, help="wrk duration (0: skip HTTP)")
    parser.add_argument("--reuse-index", action="store_true",
                        help="keep the existing index and the last run's indexing figures (query-side changes)")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    from benchmarks import report

    for n in args.articles:
        started = time.perf_counter()
        result = run(n, args)
        result["machine"] = machine()
        result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        result["commit"] = code_version()
        result["bench_seconds"] = time.perf_counter() - started
        path = OUT_DIR / f"scale-{n}.json"
        path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(REPO_ROOT)}", file=sys.stderr)
    print(report.table([json.loads((OUT_DIR / f"scale-{n}.json").read_text()) for n in args.articles]))


if __name__ == "__main__":
    main()
