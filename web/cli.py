"""The `polysearch` command: thin entry points over the analyzers, indexer and web layers.

    polysearch analyze TEXT [--lang L]         tokens with offsets (why does X (not) match?)
    polysearch index [--corpus DIR] [--rebuild] incremental, atomic reindex
    polysearch search QUERY [--lang L] [-k N] [--json]
    polysearch search --batch TOPICS.tsv --format trec -k 100 > run.txt
    polysearch eval --run RUN --qrels QRELS     (or --topics T.tsv ... to search and evaluate)
    polysearch serve [--host H] [--port P] [--workers N] [--threads N]
"""
import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # see indexer/__init__.py

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT / "corpus"


def _index_dir(args) -> Path:
    from indexer.store import default_index_dir

    return Path(args.index) if args.index else default_index_dir()


def _engine(args):
    from indexer.engine import SearchEngine

    return SearchEngine(_index_dir(args))


# -- analyze --------------------------------------------------------------------
def cmd_analyze(args) -> int:
    from analyzers import analyze, analyzer_for, field_language
    from analyzers.langid import detect_language

    lang = args.lang or detect_language(args.text)
    analyzer = analyzer_for(lang, exact=args.exact)
    tokens = analyze(analyzer, args.text, mode="query" if args.query else "index")
    rows = [{"token": t.text, "start": t.startchar, "end": t.endchar, "position": t.pos,
             "original": args.text[t.startchar:t.endchar]} for t in tokens]
    if args.json:
        print(json.dumps({"lang": lang, "field": field_language(lang), "tokens": rows},
                         ensure_ascii=False, indent=1))
        return 0
    print(f"# lang={lang} field={field_language(lang)}{' exact' if args.exact else ''} "
          f"({'detected' if not args.lang else 'given'}), {len(rows)} tokens")
    for r in rows:
        print(f"{r['position']:>4}  {r['start']:>5}-{r['end']:<5}  {r['token']}"
              + (f"   ⟵ {r['original']}" if r["original"] != r["token"] else ""))
    return 0


# -- index ----------------------------------------------------------------------
def cmd_index(args) -> int:
    from indexer.build import build_index
    from indexer.store import IndexBusyError

    corpus = Path(args.corpus)
    index_dir = _index_dir(args)
    print(f"indexing {corpus} into {index_dir}{' (full rebuild)' if args.rebuild else ''}",
          file=sys.stderr)

    def report(error):
        print(f"skipped {error}", file=sys.stderr)

    try:
        summary = build_index(corpus, index_dir, rebuild=args.rebuild,
                              progress=not args.quiet, on_error=report,
                              vectors=not args.no_vectors)
    except (FileNotFoundError, IndexBusyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary)
    if summary.langs:
        print("languages: " + ", ".join(f"{k} {v}" for k, v in summary.langs.items()))
    v = summary.vectors
    if v is not None and v.available:
        print(f"vectors: {v.passages} passages of {v.articles} articles; {v.embedded} embedded "
              f"({v.passages_per_second:.1f} passages/s), {v.reused} reused")
    elif v is not None:
        print(f"vectors: none ({v.reason}); search is lexical only")
    return 0


# -- search ---------------------------------------------------------------------
def _parse_date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def cmd_search(args) -> int:
    from indexer.results import SearchError, SearchRequest

    try:
        engine = _engine(args)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.batch:
        return _batch_search(engine, args)
    if not args.query:
        print("error: give a QUERY or --batch TOPICS.tsv", file=sys.stderr)
        return 2
    request = SearchRequest(query=args.query, lang=args.lang, page=args.page, size=args.k,
                            date_from=args.date_from, date_to=args.date_to, mode=args.mode)
    try:
        response = engine.search(request)
    except SearchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(response.to_dict(), ensure_ascii=False, indent=1))
        return 0
    import html
    import re

    print(f"{response.total} results ({response.took_ms:.1f} ms, {response.mode})  "
          + "  ".join(f"{k}:{v}" for k, v in response.facets.get("lang", {}).items()))
    for rank, hit in enumerate(response.results, start=(request.page - 1) * request.size + 1):
        snippet = html.unescape(re.sub(r"</?mark>", "**", hit.snippet))
        print(f"\n{rank:>3}. [{hit.lang}] {hit.title}  ({hit.id}, {hit.score:.3f}"
              + (f", {hit.date}" if hit.date else "") + ")")
        print(f"     {snippet}")
    return 0


def _batch_search(engine, args) -> int:
    from indexer.trec import read_topics, write_run

    try:
        topics = read_topics(args.batch)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    run = {qid: engine.retrieve(text, k=args.k, lang=args.lang, mode=args.mode)
           for qid, text in topics.items()}
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        write_run(run, out, tag=args.tag)
    finally:
        if args.output:
            out.close()
    return 0


# -- eval -----------------------------------------------------------------------
def cmd_eval(args) -> int:
    from indexer.trec import TrecFormatError

    try:
        return _evaluate(args)
    except (OSError, TrecFormatError) as e:   # a missing or malformed topics/qrels/run file, no index
        print(f"error: {e}", file=sys.stderr)
        return 2


def _evaluate(args) -> int:
    from dataclasses import asdict

    from indexer.evaluation import (evaluate, evaluate_by_target_language, format_bias_report,
                                    format_report, language_bias)
    from indexer.trec import read_qrels, read_run, read_topics, write_run

    qrels = read_qrels(args.qrels)
    if args.run:
        run = read_run(args.run)
    elif args.topics:
        engine = _engine(args)
        run = {}
        for path in args.topics:
            for qid, text in read_topics(path).items():
                run[qid] = engine.retrieve(text, k=args.k, mode=args.mode)
        if args.save_run:
            with open(args.save_run, "w", encoding="utf-8") as f:
                write_run(run, f, tag="polysearch")
    else:
        print("error: give --run RUN or --topics TOPICS.tsv [...]", file=sys.stderr)
        return 2
    if args.pairs:
        pairs = evaluate_by_target_language(run, qrels, depth=args.k)
        bias = language_bias(run, qrels, depth=args.k)
        if args.json:
            print(json.dumps({"pairs": {f"{q}->{d}": m for (q, d), m in pairs.mrr.items()},
                              "cross_language_mean": pairs.off_diagonal_mean,
                              "same_language_mean": pairs.diagonal_mean,
                              "bias": asdict(bias)}, indent=1))
        else:
            print(format_report(pairs))
            print(format_bias_report(bias))
        return 0
    report = evaluate(run, qrels)
    if args.json:
        print(json.dumps({"overall": report.overall, "by_language": report.groups,
                          "queries": report.counts, "missing": report.missing}, indent=1))
    else:
        print(format_report(report))
    return 0


# -- serve ----------------------------------------------------------------------
def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_serve(args) -> int:
    from web.serve import THREADS, run_server

    index_dir = _index_dir(args)
    threads = THREADS if args.threads is None else args.threads
    return run_server(index_dir, host=args.host, port=args.port, workers=args.workers, threads=threads) or 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polysearch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def with_index(sp):
        sp.add_argument("--index", metavar="DIR",
                        help="index directory (default: $POLYSEARCH_INDEX or <repo>/index)")
        return sp

    a = sub.add_parser("analyze", help="show the tokens an analyzer makes, with offsets")
    a.add_argument("text")
    a.add_argument("--lang", help="language whose analyzer to use (default: detected)")
    a.add_argument("--exact", action="store_true", help="the accent-exact analyzer (vi)")
    a.add_argument("--query", action="store_true", help="analyze as a query, not a document")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_analyze)

    i = with_index(sub.add_parser("index", help="index (or reindex) a corpus directory"))
    i.add_argument("--corpus", default=str(DEFAULT_CORPUS), metavar="DIR")
    i.add_argument("--rebuild", action="store_true", help="rebuild from scratch instead of incrementally")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.add_argument("--no-vectors", action="store_true",
                   help="skip passage vectors (lexical search only; much faster on large corpora)")
    i.set_defaults(func=cmd_index)

    s = with_index(sub.add_parser("search", help="search the index"))
    s.add_argument("query", nargs="?")
    s.add_argument("--lang", help="only documents in this language")
    s.add_argument("-k", type=int, default=10, help="results per page (batch: per topic)")
    s.add_argument("--page", type=int, default=1)
    s.add_argument("--from", dest="date_from", type=_parse_date)
    s.add_argument("--to", dest="date_to", type=_parse_date)
    s.add_argument("--mode", default="hybrid", choices=("lexical", "dense", "hybrid"))
    s.add_argument("--json", action="store_true")
    s.add_argument("--batch", metavar="TOPICS.tsv", help="qid<TAB>query lines; writes a TREC run")
    s.add_argument("--format", default="trec", choices=("trec",))
    s.add_argument("--output", "-o", help="write the run here instead of stdout")
    s.add_argument("--tag", default="polysearch", help="run tag (last TREC column)")
    s.set_defaults(func=cmd_search)

    e = with_index(sub.add_parser("eval", help="MRR@10, nDCG@10, Recall@10/100 per language"))
    e.add_argument("--qrels", required=True)
    e.add_argument("--run", help="a TREC run file")
    e.add_argument("--topics", nargs="+", help="search these topic files, then evaluate")
    e.add_argument("-k", type=int, default=100)
    e.add_argument("--mode", default="hybrid", choices=("lexical", "dense", "hybrid"))
    e.add_argument("--save-run", help="with --topics: also write the run here")
    e.add_argument("--pairs", action="store_true",
                   help="cross-language qrels (gold in every language): MRR@10 per query-language → "
                        "document-language pair within the mixed top k, and the language bias")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_eval)

    v = with_index(sub.add_parser("serve", help="serve the web page and JSON API"))
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--workers", type=_at_least_one, default=2)
    v.add_argument("--threads", type=_at_least_one, default=None,
                   help="Python threads per worker (default: web.serve.THREADS, 1)")
    v.set_defaults(func=cmd_serve)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
