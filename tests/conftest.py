import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


# --- web layer fixtures: one real index of corpus/ per session, the real app over it ---
@pytest.fixture(scope="session")
def web_index_dir(tmp_path_factory):
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("web-index")
    build_index(REPO_ROOT / "corpus", index_dir)
    return index_dir


@pytest.fixture(scope="session")
def parallel_index_dir(tmp_path_factory):
    """tests/data/parallel: three news stories, each in en, vi, zh, th and ar (with vectors)."""
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("parallel-index")
    build_index(REPO_ROOT / "tests" / "data" / "parallel", index_dir)
    return index_dir


@pytest.fixture(scope="session")
def two_segment_index(tmp_path_factory):
    """300 generated articles indexed by two writer processes: a segment each."""
    from benchmarks import corpus_gen
    from indexer.build import build_index

    tmp = tmp_path_factory.mktemp("two-segments")
    corpus = corpus_gen.generate(300, tmp / "corpus", seed=5, procs=1)
    build_index(corpus, tmp / "index", procs=2, vectors=False)
    return tmp / "index"


@pytest.fixture(scope="session")
def web_app(web_index_dir):
    from web.app import create_app

    return create_app({"INDEX_DIR": str(web_index_dir), "TESTING": True})


@pytest.fixture
def web_client(web_app):
    return web_app.test_client()


@pytest.fixture(scope="session")
def multilingual_query(web_app):
    """A query whose results span several languages in the seed index (query semantics may
    evolve; the web tests only need some such query)."""
    client = web_app.test_client()
    for query in ("การต่างประเทศ 民间外交 الدبلوماسية", "การต่างประเทศ 民间外交", "2023", "2024"):
        langs = client.get("/api/search", query_string={"q": query}).get_json()["facets"].get("lang", {})
        if len(langs) >= 2:
            return query
    pytest.skip("no query in the candidates matches articles in two languages")


@contextlib.contextmanager
def running_web_server(index_dir, workers=2, threads=None):
    """The production server (python -m web.serve) in a subprocess on a free port; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "web.serve", "--index", str(index_dir), "--port", str(port),
         "--workers", str(workers), *(["--threads", str(threads)] if threads else []), "--no-access-log"],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    proc.kill()
                    out = proc.stdout.read().decode(errors="replace")[-3000:]
                    raise RuntimeError(f"web server did not start:\n{out}") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def web_server():
    """Factory: `with web_server(index_dir) as url:` runs the production server for a test."""
    return running_web_server


@pytest.fixture(scope="session")
def seed_server(web_index_dir):
    """One production server (granian, 2 workers, web.serve.THREADS each) over the seed index, shared by the
    tests that need real HTTP (request limits, concurrency); yields its base URL."""
    with running_web_server(web_index_dir, workers=2) as url:
        yield url


@pytest.fixture(scope="module")
def csegment_module(tmp_path_factory):
    """indexer/csegment built (and checked) for this test module, or the test skipped."""
    from indexer import csegment

    try:
        path, _ = csegment.build(tmp_path_factory.mktemp("csegment"))
    except csegment.BuildError as exc:
        pytest.skip(f"indexer/csegment not buildable here: {exc}")
    return csegment.load_module(path)
