"""Reindex under load: the production server (granian, 2 workers) keeps answering
while `polysearch index` runs full and incremental reindexes next to it.

A bounded load generator (3 threads, 127.0.0.1 only, while the reindexes run) asks for the
whole corpus (`q=COMMON`, first page of 100), the results page and /api/health; every response
must be a 200 from one complete corpus version (total, ids and titles of one version). `make test` runs 2 reindexes over 40 articles; the slow test 6 over 300.
"""
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from figures import record
from generations import COMMON, articles, classify_page, run_index, write_version
from indexer.build import build_index

LOAD_THREADS = 3
REQUEST_TIMEOUT = 20


class LoadGenerator:
    """Threads issuing GETs against one local server until stopped; every answer is checked."""

    def __init__(self, base_url: str, n: int, threads: int = LOAD_THREADS):
        assert base_url.startswith("http://127.0.0.1:")
        self.base, self.n = base_url, n
        self.sizes = {len(articles(v, n, words=1)) for v in ("alpha", "beta")}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = Counter()
        self.versions = Counter()
        self.latencies: list[float] = []
        self.problems: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=REQUEST_TIMEOUT + 5)

    def _run(self, i: int):
        paths = [f"/api/search?q={COMMON}&size=100&mode=lexical", "/api/health", f"/?q={COMMON}"]
        k = i
        while not self.stop.is_set():
            path = paths[k % len(paths)]
            k += 1
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.base + path, timeout=REQUEST_TIMEOUT) as r:
                    status, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
            except Exception as e:             # connection refused/reset, timeout: an error
                self._count("errors", f"{path}: {type(e).__name__}: {e}")
                continue
            elapsed = time.perf_counter() - started
            problem = self._check(path, status, body)
            with self.lock:
                self.counts["requests"] += 1
                self.latencies.append(elapsed)
                if status >= 500:
                    self.counts["5xx"] += 1
            if problem:
                self._count("bad_responses", f"{path}: {problem}")

    def _check(self, path: str, status: int, body: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {body[:200]!r}"
        if path.startswith("/api/search"):
            data = json.loads(body)
            version = classify_page(data["results"], data["total"], self.n)
            if version not in ("alpha", "beta"):
                return f"{version}, total {data['total']}, {len(data['results'])} results"
            with self.lock:
                self.versions[version] += 1
        elif path == "/api/health":
            if json.loads(body)["documents"] not in self.sizes:
                return f"health says {json.loads(body)['documents']} documents"
        elif b"corpuszq" not in body:
            return "results page without the query"
        return None

    def _count(self, kind: str, problem: str):
        with self.lock:
            self.counts[kind] += 1
            self.problems.append(problem)

    def figures(self) -> dict:
        lat = sorted(self.latencies) or [0.0]
        return {"requests": self.counts["requests"], "errors": self.counts["errors"],
                "5xx": self.counts["5xx"], "bad_responses": self.counts["bad_responses"],
                "served": dict(self.versions),
                "p50_ms": round(statistics.median(lat) * 1000, 1),
                "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
                "max_ms": round(lat[-1] * 1000, 1)}


def reindex_under_load(tmp_path, web_server, n: int, reindexes: int, multilingual: bool = True) -> dict:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_version(corpus, "alpha", n, multilingual=multilingual)
    build_index(corpus, index, vectors=False)  # as the reindexes under load (generations._env)
    runs = []
    with web_server(index, workers=2) as url:
        with LoadGenerator(url, n) as load:
            time.sleep(0.5)
            for i in range(reindexes):
                version = "beta" if i % 2 == 0 else "alpha"
                rebuild = i % 2 == 1                   # incremental, full, incremental, full, ...
                write_version(corpus, version, n, multilingual=multilingual)
                started = time.monotonic()
                done = run_index(corpus, index, rebuild=rebuild)
                assert done.returncode == 0, done.stderr[-2000:]
                runs.append(f"{'full' if rebuild else 'incremental'} {time.monotonic() - started:.1f}s")
                time.sleep(1.0)                        # let every worker serve the new generation
        figures = {"reindexes": runs, "documents": n, **load.figures()}
        final = json.load(urllib.request.urlopen(f"{url}/api/search?q={COMMON}&size=100", timeout=20))
        assert classify_page(final["results"], final["total"], n) == version
    assert load.problems == [], load.problems[:10]
    return figures


def test_reindex_under_load_short(tmp_path, web_server):
    figures = reindex_under_load(tmp_path, web_server, n=40, reindexes=2, multilingual=False)
    record("reindex_under_load_short", figures)
    assert figures["errors"] == figures["5xx"] == figures["bad_responses"] == 0
    assert set(figures["served"]) == {"alpha", "beta"}      # the switch happened under load
    assert figures["requests"] >= 20


@pytest.mark.slow
def test_reindex_under_load(tmp_path, web_server):
    figures = reindex_under_load(tmp_path, web_server, n=300, reindexes=6)
    record("reindex_under_load", figures)
    assert figures["errors"] == figures["5xx"] == figures["bad_responses"] == 0
    assert set(figures["served"]) == {"alpha", "beta"}
