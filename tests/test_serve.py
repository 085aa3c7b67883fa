"""The production server says when each worker is warmed up and accepting requests, and hands
every request to whichever worker accepts it (no keep-alive)."""
import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_each_worker_says_it_is_ready_and_each_response_closes_its_connection(web_index_dir, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "web.serve", "--index", str(web_index_dir), "--port", str(port),
             "--workers", "2", "--threads", "2", "--no-access-log"],
            cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while len(re.findall(r"Worker ready \(pid: (\d+)\)", log_path.read_text(errors="replace"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        text = log_path.read_text(errors="replace")
        booted = set(re.findall(r"Booting worker with pid: (\d+)", text))
        ready = set(re.findall(r"Worker ready \(pid: (\d+)\)", text))
        assert ready == booted and len(ready) == 2
        assert "warm-up failed" not in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=Hai+Phong", timeout=10) as r:
            assert r.status == 200
        # A kept connection stays with its worker: a client's few connections could all land on
        # one worker while the other idles (web/serve.py, KEEPALIVE_SECONDS).
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/health")
        response = connection.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection", "").lower() == "close"
        connection.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
