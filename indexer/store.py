"""Index generations on disk: atomic switch, crash safety, one writer at a time.

    <root>/CURRENT              name of the live generation (replaced atomically)
    <root>/gen-<stamp>/         a complete Whoosh index + manifest.json (+ vectors)
    <root>/gen-<stamp>.tmp/     a generation being built; never read, removed on the next run
    <root>/write.lock           flock held by the one running reindex

A reindex builds a new generation beside the live one (hard-linking the
immutable Whoosh segment files for an incremental update), and only when it is
complete replaces CURRENT. A search sees the old or the new generation, never
a half-built one; a reindex killed at any point leaves CURRENT untouched, and
the kernel drops its flock, so the next run proceeds.
"""
import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LOCK = "write.lock"
KEEP_OLD_GENERATIONS = 1  # searchers opened just before a switch keep reading the previous one


class IndexBusyError(RuntimeError):
    pass


def default_index_dir() -> Path:
    """POLYSEARCH_INDEX, else <repo>/index (git-ignored)."""
    env = os.environ.get("POLYSEARCH_INDEX")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "index"


def current_generation(root: Path) -> str | None:
    try:
        name = (Path(root) / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if name and (Path(root) / name / MANIFEST).exists() else None


def generation_dir(root: Path, name: str) -> Path:
    return Path(root) / name


def read_manifest(gen_dir: Path) -> dict:
    return json.loads((Path(gen_dir) / MANIFEST).read_text(encoding="utf-8"))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextmanager
def write_lock(root: Path, wait: bool = False):
    """Exclusive reindex lock (flock: released by the kernel if the process dies)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise IndexBusyError(f"another reindex of {root} is running") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def new_generation(root: Path, base: str | None) -> Path:
    """A fresh .tmp generation dir; with base, hard links of its files (Whoosh segments are immutable)."""
    root = Path(root)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 1_000_000_000:09d}"
    tmp = root / f"gen-{stamp}.tmp"
    tmp.mkdir(parents=True)
    if base:
        for item in (root / base).iterdir():
            # Vector files are rewritten whole (under new names), so they are not linked.
            if item.is_file() and item.name != MANIFEST and not item.name.endswith(".lock") \
                    and not item.name.startswith("vectors."):
                os.link(item, tmp / item.name)
    return tmp


def publish_generation(root: Path, tmp: Path, manifest: dict) -> str:
    """Write the manifest, fsync, move the dir into place and switch CURRENT to it."""
    root = Path(root)
    _write_atomic(tmp / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    for item in tmp.iterdir():
        if item.is_file():
            with open(item, "rb") as f:
                os.fsync(f.fileno())
    final = tmp.with_name(tmp.name[: -len(".tmp")])
    os.replace(tmp, final)
    _fsync_dir(root)
    _write_atomic(root / CURRENT, final.name + "\n")
    return final.name


def remove_stale(root: Path) -> list[str]:
    """Drop unfinished .tmp generations and all but the newest old ones (caller holds the lock)."""
    root = Path(root)
    live = current_generation(root)
    gens = sorted(p for p in root.glob("gen-*") if p.is_dir())
    removed = []
    finished = [p for p in gens if not p.name.endswith(".tmp") and p.name != live]
    for p in [p for p in gens if p.name.endswith(".tmp")] + finished[: max(0, len(finished) - KEEP_OLD_GENERATIONS)]:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    return removed
