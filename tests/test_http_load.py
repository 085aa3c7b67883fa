"""The HTTP benchmark's own measurements of the server processes (benchmarks/http_load.py)."""
import os
import time

from benchmarks import http_load


def test_cpu_seconds_reads_this_process_like_os_times():
    started = time.process_time()
    while time.process_time() - started < 0.3:     # burn some CPU so the figure is not ~0
        sum(i * i for i in range(10_000))
    before = os.times()
    measured = http_load._cpu_seconds(os.getpid())
    after = os.times()
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert before.user + before.system - 2 * tick <= measured <= after.user + after.system + 2 * tick
    assert measured >= 0.3 - 2 * tick
