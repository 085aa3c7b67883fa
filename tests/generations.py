"""Two versions of a synthetic corpus, and how to tell which one an index (or a response) holds.

Version "alpha" has articles d000..d{n-1}; version "beta" changes the first three quarters,
drops the last quarter and adds new e-articles. Every article's title and body carry its
version's marker word, and every article carries COMMON, so one query returns the whole
corpus and shows at once which version (or a forbidden mix) is being served.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMON = "corpuszq"
MARKERS = {"alpha": "genalphazq", "beta": "genbetazq"}
WORDS = ("province trade delegation port harbour festival council budget river bridge school "
         "hospital rice coffee export investment cooperation friendship culture students "
         "railway airport tourism museum fishery forest energy solar wind water road").split()
_THAI = "การค้าระหว่างประเทศ ความร่วมมือ จังหวัด ท่าเรือ เทศกาล นักศึกษา ".split()
_CHINESE = "贸易 合作 省份 港口 节日 学生 铁路 旅游 ".split()


def _body(rng: random.Random, marker: str, words: int, multilingual: bool) -> str:
    parts = [COMMON, marker]
    for i in range(words):
        parts.append(rng.choice(WORDS if i % 7 or not multilingual else _THAI + _CHINESE))
    return " ".join(parts) + "."


def articles(version: str, n: int, words: int = 120, multilingual: bool = True) -> dict[str, dict]:
    """id -> JSONL record of one corpus version (deterministic)."""
    marker = MARKERS[version]
    keep = n * 3 // 4
    ids = [f"d{i:03d}" for i in range(n)] if version == "alpha" else \
          [f"d{i:03d}" for i in range(keep)] + [f"e{i:03d}" for i in range(n * 2 // 5)]
    out = {}
    for doc_id in ids:
        rng = random.Random(f"{version}-{doc_id}")
        out[doc_id] = {"id": doc_id, "title": f"{doc_id} {marker} {rng.choice(WORDS)}",
                       "body": _body(rng, marker, words, multilingual), "lang": "en", "date": "2024-05-01"}
    return out


def write_version(corpus: Path, version: str, n: int, words: int = 120, per_file: int = 50,
                  multilingual: bool = True) -> dict[str, dict]:
    """Make corpus/ hold exactly this version (files replaced atomically, stale ones removed).
    multilingual=False keeps to English words: a reindex then skips loading the Thai and
    Chinese dictionaries (seconds of start-up; the short tests use it)."""
    corpus.mkdir(parents=True, exist_ok=True)
    records = articles(version, n, words, multilingual)
    items = list(records.values())
    names = set()
    for start in range(0, len(items), per_file):
        name = f"part-{start // per_file:03d}.jsonl"
        names.add(name)
        tmp = corpus / f".{name}.tmp"
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items[start:start + per_file]),
                       encoding="utf-8")
        os.replace(tmp, corpus / name)
    for old in corpus.glob("part-*.jsonl"):
        if old.name not in names:
            old.unlink()
    return records


def expected_states(n: int) -> dict[frozenset, str]:
    """The id set of each complete version -> its name."""
    return {frozenset(articles(v, n, words=1)): v for v in MARKERS}


def classify(hits: list[dict], n: int) -> str:
    """'alpha' or 'beta' if hits (dicts with id and title) are exactly one complete version; else a description."""
    ids = frozenset(h["id"] for h in hits)
    version = expected_states(n).get(ids)
    if version is None:
        return f"mix: {len(ids)} ids matching no version"
    wrong = [h["id"] for h in hits if MARKERS[version] not in h["title"]]
    return version if not wrong else f"mix: {version} ids but other titles for {wrong[:5]}"


def classify_page(hits: list[dict], total: int, n: int) -> str:
    """Like classify, for one page of the whole-corpus query: every hit from one version, the
    total that version's size, and (when the page holds everything) exactly its ids."""
    if total <= len(hits):
        return classify(hits, n)
    by_ids = {version: ids for ids, version in expected_states(n).items()}
    for version, marker in MARKERS.items():
        if total == len(by_ids[version]) and all(
                marker in h["title"] and h["id"] in by_ids[version] for h in hits):
            return version
    return f"mix: total {total}, page of {len(hits)} not from one version"


def index_command(corpus: Path, index: Path, rebuild: bool = False) -> list[str]:
    """`polysearch index` (the installed console script's code, run by this interpreter)."""
    return [sys.executable, "-m", "web.cli", "index", "--corpus", str(corpus), "--index", str(index),
            "--quiet"] + (["--rebuild"] if rebuild else [])


def run_index(corpus: Path, index: Path, rebuild: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(index_command(corpus, index, rebuild), cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, env=_env())


def start_index(corpus: Path, index: Path, rebuild: bool = False) -> subprocess.Popen:
    """A reindex in its own process group (so SIGKILL reaches its worker processes too)."""
    return subprocess.Popen(index_command(corpus, index, rebuild), cwd=REPO_ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_group_gone(pgid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _env() -> dict:
    # Without vectors: each trial's reindex then takes a second, not minutes of embedding. The
    # vector files live inside the same .tmp generation and are published by the same switch;
    # test_cross_language.py kills a reindex in the middle of its embedding phase.
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT), "POLYSEARCH_DENSE": "off"}
