"""Kept-alive connections shared between server workers.

A worker keeps every connection it accepts, and a connection stays with it for as long as the
client keeps it open. A client with a few connections (wrk's 8, a proxy's pool) can so end up
with all of them on one worker while the other idles. A worker cannot take connections from
another, but a busy one can give some up: when another worker has been idle for IDLE_SECONDS,
the response goes out with "Connection: close", and the client's next connection goes to
whichever worker the kernel gives it (each granian worker listens on its own SO_REUSEPORT
socket, so a new connection is as likely to land on either). The more connections a busy
worker holds, the more of them it sheds, until the idle one has some: the shares even out,
and a worker that is busy while the others are too closes nothing.

Why not close one connection in every N responses instead (tried first): each worker then
gives up connections at the rate it serves, whatever it holds, so the shares did a random walk
and sat at 8-0 for seconds at a time (one worker idle 27-42% of a 12 s run at 100k articles).

The board is shared memory made before the workers are forked (or passed to them when
spawned): per slot, the pid of the worker that holds it and the monotonic time since which it
has been idle (0 while it serves). CLOCK_MONOTONIC is system-wide on Linux, so the workers'
times compare.
"""
import multiprocessing
import os
import threading
import time

IDLE_SECONDS = 0.005     # longer than a loopback round trip between two requests of one client


class IdleBoard:
    def __init__(self, workers: int):
        self.pids = multiprocessing.Array("i", workers)
        self.idle_since = multiprocessing.Array("d", workers)

    def claim(self) -> int:
        """This process's slot: a free one, or one whose worker has died (a respawn)."""
        with self.pids.get_lock():
            for slot, pid in enumerate(self.pids):
                if pid == 0 or not _alive(pid):
                    self.pids[slot] = os.getpid()
                    self.idle_since[slot] = time.monotonic()
                    return slot
        return -1          # more workers than slots: this one takes part only by serving

    def another_idle(self, slot: int, now: float) -> bool:
        for other, since in enumerate(self.idle_since):
            if other != slot and since and now - since > IDLE_SECONDS and self.pids[other]:
                return True
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ShedToIdleWorker:
    """WSGI middleware: while another worker idles, each response asks the client to close its
    connection, so that the client's next one may go to the idle worker."""

    def __init__(self, app, board: IdleBoard):
        self.app, self.board = app, board
        self.slot = board.claim()
        self._serving = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        slot, board = self.slot, self.board
        with self._lock:
            self._serving += 1
            if slot >= 0:
                board.idle_since[slot] = 0.0
        try:
            if slot < 0 or not board.another_idle(slot, time.monotonic()):
                return self.app(environ, start_response)

            def closing(status, headers, exc_info=None):
                return start_response(status, [*headers, ("Connection", "close")], exc_info)
            return self.app(environ, closing)
        finally:
            with self._lock:
                self._serving -= 1
                if slot >= 0 and not self._serving:
                    board.idle_since[slot] = time.monotonic()
