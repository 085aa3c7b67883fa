"""Production serving.

granian (a Rust HTTP server) on POSIX: `workers` processes, each running the Flask app on
`threads` Python threads while granian's own threads read and write the sockets. Each worker
opens its own read-only SearchEngine (no preload), so the processes share the index files
through the OS page cache and a reindex is picked up by every worker on its next request.
waitress (threads in one process) is the fallback where granian is unavailable (Windows).

    python -m web.serve --index ./index --port 8000
"""
import argparse
import logging
import multiprocessing
import os
import sys
import time
from functools import partial

from .app import create_app
from .connections import IdleBoard, ShedToIdleWorker

log = logging.getLogger("polysearch.web")

# Why granian, not gunicorn (which served until 2026-12-02): gunicorn parses HTTP, logs and
# writes responses in Python, under the GIL the searches need; granian does it in Rust threads.
# Alternating 12 s wrk runs through benchmarks/http_load.py's mix (8 connections, the same 2
# cores), requests/s: at 10k articles gunicorn (2 workers x 2 threads, no keep-alive) 189 / 174
# / 193, granian (2 x 1, keep-alive) 221 / 251 / 243; at 100k 132 / 95 / 108 against 116 / 148 /
# 153. Without keep-alive granian gained little (10k: 216 / 223 / 234; 100k: 95 / 118 / 106).
#
# Python threads per worker. A search is Python under the GIL, so a second thread only waits
# for it, while granian queues the requests anyway (100k: 124 and 100 requests/s with 2
# threads, 154 and 100 with one).
THREADS = 1

# Keep-alive, with two guards against one worker keeping every connection while the other
# idles (started one by one, the first worker ready took all 8 of wrk's connections for the
# whole run: 96 requests/s against ~180). The workers start accepting together (worker_app),
# and while one worker idles, the others' responses close their connections, so that clients
# reconnect, to either worker (web/connections.py).
KEEPALIVE = True

START_WAIT_SECONDS = 120     # a worker still warming after this is not waited for
WARM_UP_QUERIES = ("ประเทศ", "外交", "الدبلوماسية", "news")   # load each language's tokenizer
ACCESS_LOG_FORMAT = '[%(time)s] %(addr)s "%(method)s %(path)s?%(query_string)s %(protocol)s" %(status)d %(dt_ms).1fms'


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
            log.exception("warm-up failed")


class WholeResponses:
    """WSGI middleware: the app's response body joined into one bytes object in a list.

    granian sends a list's bytes with one call (response_bytes); any other iterable, such as
    the ClosingIterator Flask returns, it iterates from Rust through a Python wrapper
    (response_iter), while the worker's one Python thread waits for it: ~10% of a worker's
    samples under wrk at 10k articles. Our responses are small (JSON, pages, a 6 KB
    stylesheet), so holding each whole costs nothing."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def worker_app(index_dir: str, ready=None, workers: int = 1, board: IdleBoard | None = None):
    """The app of one granian worker, made in the worker: warmed up, then it says so on
    stderr (a load test waits for every worker's line: benchmarks/http_load.py).

    A worker accepts connections once this returns, and keeps each one it accepts. So that
    connections opened while the workers warm up are not all taken by the first one ready,
    each waits (up to START_WAIT_SECONDS) until all have counted themselves in `ready`, a
    shared counter: the workers start accepting together. A worker respawned later finds the
    count reached and starts at once. With a `board`, the app sheds connections to idle
    workers (web/connections.py)."""
    app = create_app({"INDEX_DIR": index_dir})
    warm_up(app)
    if ready is not None:
        with ready.get_lock():
            ready.value += 1
        deadline = time.monotonic() + START_WAIT_SECONDS
        while ready.value < workers and time.monotonic() < deadline:
            time.sleep(0.02)
    print(f"Worker ready (pid: {os.getpid()})", file=sys.stderr, flush=True)
    whole = WholeResponses(app)
    return ShedToIdleWorker(whole, board) if board is not None else whole


def _granian_available() -> bool:
    if os.name != "posix":
        return False
    try:
        import granian  # noqa: F401
    except ImportError:
        return False
    return True


def run_granian(index_dir: str, host: str, port: int, workers: int, threads: int, access_log: bool = True) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    server = Granian(
        "web.serve:worker_app", address=host, port=port, interface=Interfaces.WSGI,
        workers=workers, blocking_threads=threads, http="1",
        http1_settings=HTTP1Settings(keep_alive=KEEPALIVE),
        websockets=False, log_access=access_log, log_access_format=ACCESS_LOG_FORMAT,
        respawn_failed_workers=True, workers_kill_timeout=10)
    ready = multiprocessing.Value("i", 0)
    board = IdleBoard(workers) if KEEPALIVE and workers > 1 else None
    server.serve(target_loader=partial(worker_app, index_dir, ready, workers, board), wrap_loader=False)


def run_waitress(index_dir: str, host: str, port: int, threads: int) -> None:
    from waitress import serve

    app = create_app({"INDEX_DIR": index_dir})
    warm_up(app)
    serve(app, host=host, port=port, threads=threads, ident="polysearch",
          max_request_header_size=64 * 1024, channel_timeout=30)


def run_server(index_dir, host: str = "127.0.0.1", port: int = 8000, workers: int = 2, threads: int = THREADS,
               server: str = "auto", access_log: bool = True) -> None:
    """Serve the web app on host:port until interrupted. server: auto, granian or waitress."""
    if server == "auto":
        server = "granian" if _granian_available() else "waitress"
    if server == "granian":
        run_granian(str(index_dir), host, port, workers, threads, access_log)
    elif server == "waitress":
        run_waitress(str(index_dir), host, port, workers * threads)
    else:
        raise ValueError(f"unknown server {server!r}: use auto, granian or waitress")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m web.serve", description="Serve polysearch over HTTP.")
    parser.add_argument("--index", default=os.environ.get("POLYSEARCH_INDEX"), help="index directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--server", choices=("auto", "granian", "waitress"), default="auto")
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
