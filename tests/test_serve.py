"""The production server says when each worker is warmed up, its workers start accepting
together, and kept-alive connections do not stay with one worker while the other idles."""
import http.client
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
    kept alive, and each worker closes one in RECYCLE_EVERY, so connections that one worker
    took all at once spread to the other (web/serve.py, KEEPALIVE)."""
    from web.serve import RECYCLE_EVERY

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
        for i in range(20 * RECYCLE_EVERY):
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
        assert all(closed[pid] == served[pid] // RECYCLE_EVERY for pid in ready), (served, closed)
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

    from web.serve import ClosingEveryNth, worker_app

    ready = multiprocessing.Value("i", 0)
    made = []
    thread = threading.Thread(target=lambda: made.append(worker_app(str(web_index_dir), ready, 2)), daemon=True)
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
    assert made and isinstance(made[0], ClosingEveryNth)
    # A worker respawned later: the count is reached, it starts at once.
    started = time.monotonic()
    worker_app(str(web_index_dir), ready, 2)
    assert time.monotonic() - started < 30
