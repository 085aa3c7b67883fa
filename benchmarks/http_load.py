"""HTTP throughput of `polysearch serve` under wrk, and the server's peak memory.

The server runs as in production (granian, 2 workers × web.serve.THREADS threads, keep-alive, access log on) on
127.0.0.1 and a free port; wrk cycles through the query mix as /api/search requests
for a bounded time, with the response cache off (the mix repeats, so it would measure cache
hits; the in-process rate it is compared with is uncached too). Peak RSS is each server
process's VmHWM after the load.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lua_script(paths: list[str]) -> str:
    quoted = ",\n".join('  "%s"' % p for p in paths)
    return ("local paths = {\n" + quoted + "\n}\nlocal i = 0\n"
            "request = function()\n  i = i + 1\n"
            "  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n")


def _get(url: str, timeout: float = 30) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        r.read()
        return r.status


def measure(index_dir: Path, mix: list[tuple[str, str]], seconds: int, workers: int = 2) -> dict:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk not found: `make bench` installs it (apt-get install wrk)")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    paths = ["/api/search?" + urllib.parse.urlencode({"q": q, "mode": "lexical"}) for _, q in mix]
    exe = Path(sys.executable).with_name("polysearch")
    log = open(Path(tempfile.gettempdir()) / f"polysearch-bench-{port}.log", "w")
    server = subprocess.Popen([str(exe), "serve", "--index", str(index_dir), "--host", "127.0.0.1",
                               "--port", str(port), "--workers", str(workers)],
                              stdout=log, stderr=subprocess.STDOUT,
                              # The mix repeats: with the response cache on, this would measure hits.
                              env={**os.environ, "POLYSEARCH_QUERY_CACHE": "0"})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(base + "/api/health", 2) == 200 and len(_children(server.pid)) >= workers:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start (see {log.name})")
            time.sleep(0.5)
        # Every worker warmed up: a worker still warming accepts no connection (when the server
        # kept connections alive, 3 runs of 6 measured one worker's rate).
        while Path(log.name).read_text(errors="replace").count("Worker ready") < workers:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server workers did not get ready (see {log.name})")
            time.sleep(0.5)
        for path in paths[:20]:            # a few queries of the mix before the timed load
            _get(base + path)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(_lua_script(paths))
        workers_pids = _children(server.pid)
        cpu_before = {pid: _cpu_seconds(pid) for pid in workers_pids}
        proc = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
                               "--latency", "-s", script.name, base],
                              capture_output=True, text=True, timeout=seconds + 60)
        os.unlink(script.name)
        text = proc.stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
        errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        sock_errors = re.search(r"Socket errors:.*", text)
        latency = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
        pids = [server.pid] + _children(server.pid)
        rss = {str(pid): _vm(pid, "VmHWM") for pid in pids}
        # A run where one worker served most requests measures that worker, and shows here as
        # unequal CPU (with keep-alive, one worker could keep all of wrk's connections).
        busy = {str(pid): round(_cpu_seconds(pid) - cpu_before[pid], 2) for pid in workers_pids}
        return {"requests_per_s": rps, "seconds": seconds, "connections": CONNECTIONS, "workers": workers,
                "non_2xx": int(errors.group(1)) if errors else 0,
                "socket_errors": sock_errors.group(0) if sock_errors else None,
                "latency": latency, "peak_rss_bytes": rss,
                "peak_rss_total_bytes": sum(rss.values()),
                "peak_rss_max_worker_bytes": max(rss[str(p)] for p in pids[1:]) if len(pids) > 1 else 0,
                "worker_cpu_seconds": busy,
                "worker_cpu_balance": round(min(busy.values()) / max(max(busy.values()), 1e-9), 2) if busy else None}
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
