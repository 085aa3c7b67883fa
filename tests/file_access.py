"""Which files the code under test opens or lists, from a Python audit hook (this thread only)."""
import os
import sys
import threading
from contextlib import contextmanager

_seen = threading.local()


def _audit(event, args):
    paths = getattr(_seen, "paths", None)
    if paths is not None and event in ("open", "os.scandir", "os.listdir") and args and args[0] is not None:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            paths.append((event, os.fsdecode(path)))


sys.addaudithook(_audit)    # once per process: this module is imported once


@contextmanager
def file_accesses():
    """Every (event, path) this thread opens ("open") or lists while inside the block."""
    _seen.paths = []
    try:
        yield _seen.paths
    finally:
        _seen.paths = None
