"""The production server says when each worker is warmed up, its workers start accepting
together, and kept-alive connections do not stay with one worker while the other idles."""
import http.client
import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 8


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _server_inode_by_client_port(server_port: int) -> dict[int, str]:
    """For each established connection to server_port: the client's port → the inode of the
    server's end of it (/proc/net/tcp: local and remote addresses in hex, the inode 10th)."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == server_port and fields[3] == "01":     # 01: ESTABLISHED
            out[remote_port] = fields[9]
    return out


def _owner(conn: http.client.HTTPConnection, server_port: int, workers: set[str]) -> str:
    """The worker process holding the server's end of conn, once one has accepted it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        inode = _server_inode_by_client_port(server_port).get(conn.sock.getsockname()[1])
        for pid in workers:
            if inode in _socket_inodes(int(pid)):
                return pid
        time.sleep(0.01)
    raise AssertionError("no worker accepted the connection within 10 s")


def test_workers_start_together_and_kept_alive_connections_move_between_them(web_index_dir, tmp_path):
    """Each worker says when it is warmed up; both start accepting together; connections are
    kept alive while both workers are busy, and a worker closes them while the other idles, so
    they spread (web/connections.py). Here one request is in flight at a time, so the worker not
    serving it idles, and past IDLE_SECONDS the response closes its connection."""

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "web.serve", "--index", str(web_index_dir), "--port", str(port),
             "--workers", "2", "--no-access-log"],
            cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(CONNECTIONS)]
    try:
        deadline = time.monotonic() + 90
        while True:       # refused until the workers accept: then all at once, as a pool would
            try:
                connections[0].connect()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.05)
        for conn in connections[1:]:
            conn.connect()
        while len(re.findall(r"Worker ready", log_path.read_text(errors="replace"))) < 2:
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.05)
        text = log_path.read_text(errors="replace")
        spawned = set(re.findall(r"Spawning worker-\d+ with PID: (\d+)", text))
        ready = set(re.findall(r"Worker ready \(pid: (\d+)\)", text))
        assert ready == spawned and len(ready) == 2, text[-3000:]
        assert "warm-up failed" not in text

        served = {pid: 0 for pid in ready}
        closed = {pid: 0 for pid in ready}
        for i in range(200):
            conn = connections[i % CONNECTIONS]
            if conn.sock is None:
                conn.connect()        # after a close: a new connection, to whichever worker accepts
            owner = _owner(conn, port, ready)
            conn.request("GET", "/api/health")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            served[owner] += 1
            if response.getheader("Connection", "").lower() == "close":
                closed[owner] += 1
                assert conn.sock is None
        assert sum(closed.values()) >= 1, (served, closed)
        assert min(served.values()) >= 1, served          # not all kept by one worker
    finally:
        for conn in connections:
            conn.close()
        proc.terminate()
        proc.wait(timeout=15)


def test_a_worker_starts_accepting_once_every_worker_has_warmed_up(web_index_dir):
    """worker_app returns (and so its worker starts accepting) only when the shared count of
    warmed-up workers reaches the number of workers, or after START_WAIT_SECONDS."""
    import multiprocessing
    import threading

    from web.connections import IdleBoard, ShedToIdleWorker
    from web.serve import worker_app

    ready = multiprocessing.Value("i", 0)
    made = []
    board = IdleBoard(2)
    thread = threading.Thread(target=lambda: made.append(worker_app(str(web_index_dir), ready, 2, board)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while ready.value < 1:                  # this worker warmed up and counted itself
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)
    assert thread.is_alive() and not made   # the other worker has not: still waiting
    with ready.get_lock():
        ready.value += 1                    # the other one is ready
    thread.join(timeout=5)
    assert made and isinstance(made[0], ShedToIdleWorker)
    # A worker respawned later: the count is reached, it starts at once.
    started = time.monotonic()
    worker_app(str(web_index_dir), ready, 2)
    assert time.monotonic() - started < 30


def _client_sees(app) -> dict:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)
    body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/health", "QUERY_STRING": "", "SERVER_NAME": "x",
                "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}, start_response)
    b"".join(body)
    return seen


def test_a_worker_sheds_connections_only_while_another_idles():
    """The load-sharing rule itself (web/connections.py), on a real board between two slots."""
    from web.connections import IDLE_SECONDS, IdleBoard, ShedToIdleWorker

    def ok(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    board = IdleBoard(2)
    worker = ShedToIdleWorker(ok, board)
    assert worker.slot == 0 and board.pids[0] == os.getpid()
    assert "Connection" not in _client_sees(worker)["headers"]          # no other worker yet
    board.pids[1] = os.getpid()                                         # another worker, busy
    board.idle_since[1] = 0.0
    assert "Connection" not in _client_sees(worker)["headers"]
    board.idle_since[1] = time.monotonic() + 60     # finished a request less than IDLE_SECONDS ago
    assert "Connection" not in _client_sees(worker)["headers"]
    board.idle_since[1] = time.monotonic() - 2 * IDLE_SECONDS           # idle: shed this one
    assert _client_sees(worker)["headers"]["Connection"] == "close"
    assert board.idle_since[0] > 0                                      # this one idle again after
    # A slot whose worker died is taken by the next worker to start (a respawn).
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    board.pids[0] = exited.pid
    assert ShedToIdleWorker(ok, board).slot == 0


def _wsgi_get(app, path: str) -> tuple[dict, object]:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)
    body = app({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "x",
                "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}, start_response)
    return seen, body


def test_a_worker_answers_with_whole_bodies(web_index_dir):
    """granian sends a list's bytes in one call and iterates anything else from Rust, so a
    worker's app (WholeResponses) answers with the body Flask makes, whole, in a list, and
    closes what Flask returned."""
    from web.app import create_app
    from web.serve import WholeResponses, worker_app

    flask_app = create_app({"INDEX_DIR": str(web_index_dir)})
    worker = worker_app(str(web_index_dir))
    assert isinstance(worker, WholeResponses)
    for path in ("/api/health", "/static/style.css", "/api/article/no-such-id"):
        seen, body = _wsgi_get(worker, path)
        want_seen, want_body = _wsgi_get(flask_app, path)
        assert isinstance(body, list) and len(body) == 1 and isinstance(body[0], bytes)
        assert (seen["status"], body[0]) == (want_seen["status"], b"".join(want_body))
        assert seen["headers"]["Content-Length"] == str(len(body[0]))
    closed = []

    class Streamed(list):
        def close(self):
            closed.append(True)

    def streaming(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Streamed([b"one ", b"two"])
    seen, body = _wsgi_get(WholeResponses(streaming), "/")
    assert body == [b"one two"] and closed == [True]
