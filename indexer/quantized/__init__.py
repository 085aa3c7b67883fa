"""The passage matrix in int8, scored by a small C kernel: a quarter of the bytes per query.

    codes, scales = quantize(matrix)            # int8 (rows, dim), float32 (rows,)
    scorer = load_scorer()                      # None without the build (python -m indexer.quantized)
    approx = scorer.scores(codes, scales, q)    # float32 (rows,) ≈ matrix @ q
    approx - matrix @ q                         # ~ normal, std scales * error_sigma(q)
    scorer.group_max(approx, starts)            # each article's best passage
    scorer.article_scores(codes, scales, q, starts, chunks, langs, nlang, 7.0)   # both at once, in the cache
    scorer.standardize(...)                     # per-language z-scores (group_standardization in C)
    scorer.top_candidates(z, margin, k)         # the articles that may still reach the top k
    scorer.ranges_max_dot(matrix, starts, ends, q)   # their best passages' float32 products, in place

Why: a dense query is one product with every passage vector. At 100,000 articles (266,664
passages × 384 float32) that streams 410 MB per query, ~22 ms on 2 cores here, more than all of
a lexical search; the int8 codes are 103 MB. Each row keeps its own scale (its largest
component / 127); the query is rounded to int16, so its own rounding is ~1/65,534 of its
largest component. The integer sums are exact, so every path gives the same bits. Callers that
need exact scores rescore the rows near the top with the float32 rows (indexer/vectors.py):
the error's spread says which rows can still reach it.

Without a C compiler (or with POLYSEARCH_INT8_SCORES=off) there is no scorer, and callers use
the float32 product.
"""
import ctypes
import os
from pathlib import Path

import numpy as np

from analyzers.cachedir import cache_dir

from analyzers.cbuild import LDFLAGS, BuildError, build_checked, build_key, find_compiler, load_once, switched_off

SOURCE = Path(__file__).with_name("int8_scores.c")
CFLAGS = ["-O3", "-mavx2", "-funroll-loops", "-fopenmp", "-fPIC"]
CODE_MAX = 127            # int8 codes in [-127, 127]: symmetric, so -x quantizes to -code(x)
QUERY_MAX = 32767         # the query in int16
MAX_DIM = 16384           # 127 * 32767 * 16384 < 2**31: the kernel's int32 sums cannot overflow
PARALLEL_ROWS = 65536     # below this, waking a second thread costs more than it saves
CHUNK_ROWS = 4096         # rows of whole articles a thread takes at a time in article_scores


def disabled() -> bool:
    return switched_off("POLYSEARCH_INT8_SCORES")


def quantize(matrix: np.ndarray, chunk_rows: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scale per row) with matrix[r] ≈ scales[r] * codes[r], each
    component off by at most scales[r] / 2. Works in chunks: the matrix may be memory-mapped."""
    rows = matrix.shape[0]
    codes = np.empty(matrix.shape, dtype=np.int8)
    scales = np.empty(rows, dtype=np.float32)
    for start in range(0, rows, chunk_rows):
        block = np.asarray(matrix[start:start + chunk_rows], dtype=np.float32)
        top = np.abs(block).max(axis=1) if block.shape[1] else np.zeros(len(block), np.float32)
        scale = np.where(top > 0, top / CODE_MAX, 1.0).astype(np.float32)
        codes[start:start + len(block)] = np.clip(np.rint(block / scale[:, None]), -CODE_MAX, CODE_MAX)
        scales[start:start + len(block)] = scale
    return codes, scales


def query_codes(query: np.ndarray) -> tuple[np.ndarray, float]:
    """(int16 codes, scale) with query ≈ scale * codes."""
    query = np.asarray(query, dtype=np.float64)
    top = float(np.abs(query).max()) if query.size else 0.0
    scale = top / QUERY_MAX if top > 0 else 1.0
    return np.rint(query / scale).astype(np.int16), scale


def error_sigma(query: np.ndarray, query_scale: float | None = None) -> float:
    """Standard deviation of scores(...) - matrix @ query for a row of scale 1 (multiply by the
    row's scale). query_scale: query_codes(query)'s scale, if the caller has it already.

    With p = s·c + e and q = t·k + f, the error is e·q + s·(c·f): sums of dim rounding errors,
    each uniform in ±s/2 (±t/2 for f) and unrelated to the other vector, so its variance is
    s²/12 · (|q|² + t²·|c|²) with |c|² <= 127²·dim. The worst case adds every term with the
    same sign (s/2·|q|_1: 0.01 for these vectors, 10x what is ever seen); a margin of a few
    standard deviations leaves out only rows whose error is 1e-12 likely under a normal tail.
    """
    query = np.asarray(query, dtype=np.float64)
    t = query_codes(query)[1] if query_scale is None else query_scale
    return float(np.sqrt((np.dot(query, query) + (t * CODE_MAX) ** 2 * query.size) / 12))


class Int8Scorer:
    """The loaded C kernel. Re-entrant: it keeps no state."""

    def __init__(self, library: Path):
        self.path = Path(library)
        library = ctypes.CDLL(str(library))
        self._fn = library.ps_int8_scores
        self._fn.restype = None
        self._fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        self._max = library.ps_segment_max
        self._max.restype = None
        self._max.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
        self._standardize = library.ps_standardize
        self._standardize.restype = None
        self._standardize.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                                      ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._ranges_max_dot = library.ps_ranges_max_dot
        self._ranges_max_dot.restype = None
        self._ranges_max_dot.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        self._article_scores = library.ps_int8_article_scores
        self._article_scores.restype = ctypes.c_long
        self._article_scores.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                                         ctypes.c_void_p, ctypes.c_float, ctypes.c_void_p, ctypes.c_long,
                                         ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_long,
                                         ctypes.c_float, ctypes.c_float, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_void_p, ctypes.c_int]
        self._standardize_sums = library.ps_standardize_sums
        self._standardize_sums.restype = None
        self._standardize_sums.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                                           ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                                           ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self._top_candidates = library.ps_top_candidates
        self._top_candidates.restype = ctypes.c_long
        self._top_candidates.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                                         ctypes.c_void_p]
        self.threads = max(1, min(os.cpu_count() or 1, 4))
        loop = library.ps_int8_scores_path
        loop.restype = ctypes.c_char_p
        # which loop scores here: "avx512-vnni" (POLYSEARCH_INT8_AVX512=off declines it), "avx2", "scalar"
        self.loop = loop().decode()

    def scores(self, codes: np.ndarray, scales: np.ndarray, query: np.ndarray) -> np.ndarray:
        rows, dim = codes.shape
        if dim > MAX_DIM or len(scales) != rows or len(query) != dim:
            raise ValueError(f"codes {codes.shape}, scales {scales.shape}, query {np.shape(query)}")
        codes = np.ascontiguousarray(codes, dtype=np.int8)        # no copy for a C-ordered memmap
        scales = np.ascontiguousarray(scales, dtype=np.float32)
        k, t = query_codes(query)
        out = np.empty(rows, dtype=np.float32)
        if rows:
            self._fn(codes.ctypes.data, scales.ctypes.data, rows, dim, k.ctypes.data, out.ctypes.data,
                     self.threads if rows >= PARALLEL_ROWS else 1)
        out *= np.float32(t)
        return out

    def article_scores(self, codes: np.ndarray, scales: np.ndarray, query: np.ndarray, starts: np.ndarray,
                       chunks: np.ndarray, langs: np.ndarray, nlang: int, sigmas: float):
        """scores() and group_max() in one pass, while the row scores are in the cache (see
        ps_int8_article_scores): (each article's best-passage score, its rescoring margin
        sigmas × its largest row scale × error_sigma(query), and per language the sum of the
        scores and of their squares, shape (nlang, 2), for standardize(sums=...)). starts: each
        article's first row, from 0, increasing; chunks: the first article of each share of work
        (article_chunks); langs[a] in [0, nlang)."""
        rows, dim = codes.shape
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        chunks = np.ascontiguousarray(chunks, dtype=np.int64)
        langs = np.ascontiguousarray(langs, dtype=np.int64)
        n = len(starts)
        if dim > MAX_DIM or len(scales) != rows or len(query) != dim or len(langs) != n or (
                n and (starts[0] != 0 or len(chunks) == 0 or chunks[0] != 0)):
            raise ValueError(f"codes {codes.shape}, scales {scales.shape}, query {np.shape(query)}, "
                             f"{n} articles, {len(langs)} languages")
        codes = np.ascontiguousarray(codes, dtype=np.int8)
        scales = np.ascontiguousarray(scales, dtype=np.float32)
        k, t = query_codes(query)
        out = np.empty(n, dtype=np.float32)
        margin = np.empty(n, dtype=np.float32)
        sums = np.zeros((nlang, 2), dtype=np.float64)
        done = self._article_scores(codes.ctypes.data, scales.ctypes.data, rows, dim, k.ctypes.data, t,
                                    starts.ctypes.data, n, chunks.ctypes.data, len(chunks),
                                    langs.ctypes.data, nlang, error_sigma(query, t), sigmas,
                                    out.ctypes.data, margin.ctypes.data, sums.ctypes.data,
                                    self.threads if rows >= PARALLEL_ROWS else 1)
        if done == -2:
            raise ValueError("article starts must increase inside the rows, chunks inside the articles, "
                             "languages in [0, nlang)")
        if done < 0:
            raise MemoryError("article_scores")
        return out, margin, sums

    def standardize(self, scores: np.ndarray, codes: np.ndarray, groups: int, min_center: int,
                    min_spread: int, margin: np.ndarray | None = None, sums: np.ndarray | None = None,
                    counts: np.ndarray | None = None):
        """Per-group z-scores of scores (see ps_standardize in int8_scores.c; group_standardization
        is the same in numpy): (z float32, margin on the z scale or None, center and spread per
        group). margin: each score's rescoring margin in cosine units. 2.6 → 0.3 ms for 100,000
        articles, 32 → 3 ms for 1M. sums: per group the sum of the scores and of their squares
        (article_scores makes them), which leaves one pass over the scores instead of three;
        counts: the scores per group, if known."""
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        codes = np.ascontiguousarray(codes, dtype=np.int64)
        n = len(scores)
        if len(codes) != n or (margin is not None and len(margin) != n) or (n and codes.max() >= groups):
            raise ValueError("scores, codes and margin must have one value per article")
        if sums is not None and np.shape(sums) != (groups, 2):
            raise ValueError(f"sums of shape {np.shape(sums)}, not ({groups}, 2)")
        z = np.empty(n, dtype=np.float32)
        center, spread = np.zeros(groups), np.ones(groups)
        if margin is not None:
            margin = np.array(margin, dtype=np.float32)       # a copy: the kernel rescales it in place
        if n:
            margin_at = None if margin is None else margin.ctypes.data
            if sums is None:
                self._standardize(scores.ctypes.data, codes.ctypes.data, n, groups, min_center, min_spread,
                                  margin_at, center.ctypes.data, spread.ctypes.data, z.ctypes.data)
            else:
                counts = np.ascontiguousarray(np.bincount(codes, minlength=groups) if counts is None else counts,
                                              dtype=np.int64)
                sums = np.ascontiguousarray(sums, dtype=np.float64)
                self._standardize_sums(scores.ctypes.data, codes.ctypes.data, n, groups, counts.ctypes.data,
                                       sums.ctypes.data, min_center, min_spread, margin_at,
                                       center.ctypes.data, spread.ctypes.data, z.ctypes.data)
        return z, margin, center, spread

    def group_max(self, scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """np.maximum.reduceat(scores, starts) for increasing starts from 0 (3.4 ms → 0.3 ms
        for 266,664 rows in 100,000 groups)."""
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        if len(starts) and (starts[0] != 0 or len(scores) == 0):
            raise ValueError("groups must start at row 0")
        out = np.empty(len(starts), dtype=np.float32)
        if len(starts):
            self._max(scores.ctypes.data, starts.ctypes.data, len(starts), len(scores), out.ctypes.data)
        return out

    def ranges_max_dot(self, matrix: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                       query: np.ndarray) -> np.ndarray:
        """out[a] = max of matrix[starts[a]:ends[a]] @ query, the rows read where they are (a
        memory-mapped matrix is not copied); equal to numpy's up to the float sums' order."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)    # no copy for a C-ordered memmap
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        ends = np.ascontiguousarray(ends, dtype=np.int64)
        query = np.ascontiguousarray(query, dtype=np.float32)
        rows, dim = matrix.shape
        if len(query) != dim or len(starts) != len(ends) or (
                len(starts) and (starts.min() < 0 or ends.max() > rows or (ends <= starts).any())):
            raise ValueError("row ranges must be non-empty and inside the matrix, the query of its width")
        out = np.empty(len(starts), dtype=np.float32)
        if len(starts):
            self._ranges_max_dot(matrix.ctypes.data, dim, starts.ctypes.data, ends.ctypes.data, len(starts),
                                 query.ctypes.data, out.ctypes.data)
        return out

    def top_candidates(self, values: np.ndarray, margin: np.ndarray, k: int) -> np.ndarray:
        """The indexes, ascending, of the finite values whose value + margin reaches the k-th
        largest value - margin (all the finite ones if fewer than k are; see ps_top_candidates,
        and top_candidates_reference in numpy)."""
        values = np.ascontiguousarray(values, dtype=np.float32)
        margin = np.ascontiguousarray(margin, dtype=np.float32)
        n = len(values)
        if len(margin) != n or not 1 <= k <= n:
            raise ValueError("one margin per value, and 1 <= k <= the values")
        out = np.empty(n, dtype=np.int64)
        count = self._top_candidates(values.ctypes.data, margin.ctypes.data, n, k, out.ctypes.data)
        if count < 0:
            raise MemoryError("top_candidates")
        return out[:count]


def article_chunks(starts: np.ndarray, rows_per_chunk: int = CHUNK_ROWS) -> np.ndarray:
    """The first article of each share of article_scores' work: whole articles, a new share
    from the first article that starts past another multiple of rows_per_chunk."""
    starts = np.asarray(starts, dtype=np.int64)
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    bucket = starts // rows_per_chunk
    return np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]]).astype(np.int64)


def top_candidates_reference(values: np.ndarray, margin: np.ndarray, k: int) -> np.ndarray:
    """Int8Scorer.top_candidates in numpy: the same indexes."""
    low = values - margin
    floor = np.partition(low, len(low) - k)[len(low) - k]
    return np.flatnonzero(np.isfinite(values) & (values + margin >= floor))


def reference_scores(codes: np.ndarray, scales: np.ndarray, query: np.ndarray) -> np.ndarray:
    """What the kernel computes, in numpy (slow): the build is checked against it bit for bit."""
    k, t = query_codes(query)
    sums = codes.astype(np.int64) @ k.astype(np.int64)
    return (scales * sums.astype(np.float32)) * np.float32(t)


def group_standardization(scores, codes: np.ndarray, groups: int, min_center: int,
                          min_spread: int) -> tuple[np.ndarray, np.ndarray]:
    """(center, spread) per group for z = (score - center) / spread, in numpy: a group's
    center is its mean when it has min_center members (else the mean of all), its spread its
    standard deviation around that when it has min_spread (else that of all the centered
    scores), plus 1e-6. One bincount pass per statistic (a masked copy per group per
    statistic took 16 ms at 100,000 articles, this 2-3 ms); Int8Scorer.standardize computes the
    same in C in 0.3 ms (VectorSet.standardized says why per language)."""
    x = np.asarray(scores, dtype=np.float64)
    counts = np.bincount(codes, minlength=groups)
    per = np.maximum(counts, 1)
    center = np.where(counts >= min_center, np.bincount(codes, weights=x, minlength=groups) / per, x.mean())
    centered = x - center[codes]
    dev = centered - (np.bincount(codes, weights=centered, minlength=groups) / per)[codes]
    stds = np.sqrt(np.bincount(codes, weights=dev * dev, minlength=groups) / per) + 1e-6
    return center, np.where(counts >= min_spread, stds, centered.std() + 1e-6)


def library_dir() -> Path:
    return Path(cache_dir()) / "int8-scores"


def _key() -> str:
    return build_key(SOURCE.read_text(encoding="utf-8"), " ".join(CFLAGS), " ".join(LDFLAGS))


def library_path(directory: Path | None = None) -> Path:
    return (directory or library_dir()) / f"int8-scores-{_key()}.so"


_scorers: dict[tuple[str, Path | None], Int8Scorer | None] = {}


def load_scorer(directory: Path | None = None) -> Int8Scorer | None:
    """The built kernel for this source, or None (not built, disabled, or not loadable here).

    Looked up once per process and cache directory: every dense query asks, and hashing the
    source to find the file took ~3 ms (a build made later is used by the next process)."""
    return None if disabled() else load_once(_scorers, directory, library_path, Int8Scorer)


# The check: random rows of several shapes (a dimension not a multiple of 16, rows not a
# multiple of 4, enough rows for the threaded path), compared bit for bit with numpy; the
# float32 rescoring of row ranges, up to its sums' order.
_CHECK_SCRIPT = r"""
import sys
import numpy as np
from indexer.quantized import (Int8Scorer, reference_scores, group_standardization, top_candidates_reference,
                               article_chunks, error_sigma, PARALLEL_ROWS)
scorer = Int8Scorer(sys.argv[1])
rng = np.random.default_rng(7)
for rows, dim in ((0, 384), (1, 384), (7, 384), (13, 37), (PARALLEL_ROWS + 5, 384), (9, 1000)):
    codes = rng.integers(-127, 128, size=(rows, dim), dtype=np.int8)
    scales = rng.random(rows, dtype=np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    got, want = scorer.scores(codes, scales, query), reference_scores(codes, scales, query)
    if not np.array_equal(got, want):
        sys.exit(f"rows={rows} dim={dim}: kernel differs from numpy by {np.abs(got - want).max()}")
    if rows:
        starts = np.flatnonzero(np.r_[True, rng.random(rows - 1) < 0.4])
        if not np.array_equal(scorer.group_max(want, starts), np.maximum.reduceat(want, starts)):
            sys.exit(f"rows={rows}: group maxima differ from numpy")
for rows, dim, chunk_rows in ((1, 384, 4096), (7, 37, 2), (500, 384, 16), (PARALLEL_ROWS + 5, 384, 4096)):
    codes = rng.integers(-127, 128, size=(rows, dim), dtype=np.int8)
    scales = rng.random(rows, dtype=np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    starts = np.flatnonzero(np.r_[True, rng.random(rows - 1) < 0.4])
    langs = rng.integers(0, 3, size=len(starts))
    best, margin, sums = scorer.article_scores(codes, scales, query, starts, article_chunks(starts, chunk_rows),
                                               langs, 3, 7.0)
    if not np.array_equal(best, scorer.group_max(reference_scores(codes, scales, query), starts)):
        sys.exit(f"rows={rows} dim={dim}: the fused article scores differ from numpy")
    if not np.array_equal(margin, scorer.group_max(scales, starts) * error_sigma(query) * 7.0):
        sys.exit(f"rows={rows} dim={dim}: the fused margins differ from numpy")
    want = np.stack([np.bincount(langs, weights=best.astype(np.float64), minlength=3),
                     np.bincount(langs, weights=best.astype(np.float64) ** 2, minlength=3)], axis=1)
    if not np.allclose(sums, want, rtol=1e-12, atol=1e-9):
        sys.exit(f"rows={rows} dim={dim}: the fused per-language sums differ from numpy")
for rows, dim, articles in ((1, 384, 1), (40, 384, 9), (300, 37, 50), (3000, 1000, 400)):
    matrix = rng.standard_normal((rows, dim)).astype(np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    starts = np.sort(rng.choice(rows, size=articles, replace=False))
    ends = np.minimum(starts + rng.integers(1, 4, size=articles), np.r_[starts[1:], rows])
    order = rng.permutation(articles)      # asked in any order
    got = scorer.ranges_max_dot(matrix, starts[order], ends[order], query)
    want = np.array([(matrix[a:b] @ query).max() for a, b in zip(starts[order], ends[order])], dtype=np.float32)
    if not np.allclose(got, want, rtol=1e-5, atol=1e-5 * np.sqrt(dim)):
        sys.exit(f"rows={rows} dim={dim}: range maxima differ from numpy by {np.abs(got - want).max()}")
for n, k in ((1, 1), (10, 10), (500, 7), (100000, 100)):
    values = rng.standard_normal(n).astype(np.float32)
    values[rng.random(n) < 0.2] = -np.inf                  # filtered out
    values[:3] = rng.standard_normal(len(values[:3]))           # some finite ones whatever the draw
    k = min(k, int(np.isfinite(values).sum()))
    margin = (rng.random(n) * 0.3).astype(np.float32)
    margin[rng.random(n) < 0.1] = 0.0
    got, want = scorer.top_candidates(values, margin, k), top_candidates_reference(values, margin, k)
    if not np.array_equal(got, want):
        sys.exit(f"n={n} k={k}: top candidates differ from numpy")
for n, groups in ((1, 1), (50, 3), (5000, 6)):
    x = (rng.standard_normal(n) * 0.05 + 0.8).astype(np.float32)
    codes = rng.integers(0, groups, size=n) if n > 1 else np.zeros(1, dtype=np.int64)
    c, s = group_standardization(x, codes, groups, 3, 30)
    want = ((x - c[codes]) / s[codes]).astype(np.float32)
    sums = np.stack([np.bincount(codes, weights=x.astype(np.float64), minlength=groups),
                     np.bincount(codes, weights=x.astype(np.float64) ** 2, minlength=groups)], axis=1)
    for given in (None, sums):
        z, _, center, spread = scorer.standardize(x, codes, groups, 3, 30, sums=given)
        if not np.allclose(z, want, rtol=1e-5, atol=1e-5):
            sys.exit(f"n={n}: z-scores differ from numpy by {np.abs(z - want).max()}")
print("ok")
"""


def build(directory: Path | None = None, compiler: str | None = None) -> tuple[Path, bool]:
    """Compile, check against numpy, install: (path, whether it was built now)."""
    directory = directory or library_dir()
    target = library_path(directory)
    if target.is_file():
        return target, False
    build_checked(SOURCE, target, find_compiler(compiler), CFLAGS, _CHECK_SCRIPT, "the int8 scorer",
                  env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    _scorers.clear()
    return target, True


def describe(result: tuple[Path, bool]) -> str:
    path, built = result
    return f"built {path} (agrees with numpy)" if built else f"int8 scorer is up to date: {path}"
