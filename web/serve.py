"""Production serving.

gunicorn on POSIX: `workers` processes × `threads` threads (gthread worker).
Each worker opens its own read-only SearchEngine lazily (no preload), so the
processes share the index files through the OS page cache and a reindex is
picked up by every worker on its next request. waitress (threads in one
process) is the fallback where gunicorn is unavailable (Windows).

    python -m web.serve --index ./index --port 8000
"""
import argparse
import logging
import os
import sys

from .app import create_app

# Threads per gunicorn worker. A search is mostly Python under the GIL, so threads beyond two
# only wait for it: with wrk's 8 connections on the same 2 cores, alternating runs of 12-15 s,
# 2 threads served 1.19-1.34x the requests/s of 4 at 10k articles (3 of 3 pairs) and 1.11-1.50x
# at 100k (5 of 5), with a lower p50 latency (with keep-alive then). One thread (a sync worker)
# matched two at 100k.
THREADS = 2

# No keep-alive: a gthread worker keeps every connection it accepts, and a client that opens
# a few keep-alive connections at once (a load balancer's pool, wrk's 8) can find them all on
# one worker while the other idles; closing after each response lets every request go to
# whichever worker accepts first. Alternating 12 s wrk runs at 10k articles: with 5 s of
# keep-alive 144 / 77 / 150 / 165 / 172 requests/s (the 77: one worker had all 8 connections,
# the other used no CPU; the benchmark saw 22% and 24% of the in-process rate that way), without
# 171 / 177 / 129 / 157 / 148, the workers' CPU always within 4% of each other. At 100k:
# 117 / 95 / 73 with, 93 / 78 / 88 without.
KEEPALIVE_SECONDS = 0

# The request line (method + path + query + version) limit. 8190 is gunicorn's
# maximum; a 1000-character Thai query percent-encodes to ~9 KB, so longer ones
# are refused with 414 by the server itself, shorter over-limit ones by the app.
LIMIT_REQUEST_LINE = 8190


WARM_UP_QUERIES = ("ประเทศ", "外交", "الدبلوماسية", "news")   # load each language's tokenizer


def warm_up(app) -> None:
    """Open the engine and run one query per script, so a worker's first real
    request doesn't pay for loading tokenizer dictionaries (~0.5 s for Thai)."""
    from indexer.results import SearchRequest
    from .app import IndexUnavailable, get_engine

    with app.app_context():
        try:
            engine = get_engine()
            for query in WARM_UP_QUERIES:
                engine.search(SearchRequest(query=query, size=1))
        except IndexUnavailable:
            pass                      # served as 503 until an index exists
        except Exception:             # warming is an optimisation; never stop a worker for it
            logging.getLogger("polysearch.web").exception("warm-up failed")


def warm_worker(app, worker) -> None:
    """gunicorn's post_worker_init: warm up, then say so in the error log. A load test waits
    for every worker's line (benchmarks/http_load.py): a worker still warming accepts nothing,
    so a load started meanwhile measures the other one."""
    warm_up(app)
    worker.log.info("Worker ready (pid: %s)", worker.pid)


def _gunicorn_available() -> bool:
    if os.name != "posix":
        return False
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def run_gunicorn(app, host: str, port: int, workers: int, threads: int, access_log: bool = True) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{host}:{port}", "workers": workers, "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "timeout": 30, "graceful_timeout": 10, "keepalive": KEEPALIVE_SECONDS,
                "limit_request_line": LIMIT_REQUEST_LINE, "limit_request_fields": 50,
                "accesslog": "-" if access_log else None, "errorlog": "-",
                "preload_app": False, "proc_name": "polysearch",
                "control_socket_disable": True,
                "post_worker_init": lambda worker: warm_worker(app, worker),
            }
            for key, value in settings.items():
                if key in self.cfg.settings:     # control_socket_* only exist in newer gunicorn
                    self.cfg.set(key, value)

        def load(self):
            return app

    _Server().run()


def run_waitress(app, host: str, port: int, threads: int) -> None:
    from waitress import serve

    warm_up(app)
    serve(app, host=host, port=port, threads=threads, ident="polysearch",
          max_request_header_size=64 * 1024, channel_timeout=30)


def run_server(index_dir, host: str = "127.0.0.1", port: int = 8000, workers: int = 2, threads: int = THREADS,
               server: str = "auto", access_log: bool = True) -> None:
    """Serve the web app on host:port until interrupted. server: auto, gunicorn or waitress."""
    app = create_app({"INDEX_DIR": str(index_dir)})
    if server == "auto":
        server = "gunicorn" if _gunicorn_available() else "waitress"
    if server == "gunicorn":
        run_gunicorn(app, host, port, workers, threads, access_log)
    elif server == "waitress":
        run_waitress(app, host, port, workers * threads)
    else:
        raise ValueError(f"unknown server {server!r}: use auto, gunicorn or waitress")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m web.serve", description="Serve polysearch over HTTP.")
    parser.add_argument("--index", default=os.environ.get("POLYSEARCH_INDEX"), help="index directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--server", choices=("auto", "gunicorn", "waitress"), default="auto")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    index = args.index
    if not index:
        from .app import REPO_ROOT
        index = REPO_ROOT / "index"
    run_server(index, args.host, args.port, args.workers, args.threads, args.server, not args.no_access_log)


if __name__ == "__main__":
    main()
