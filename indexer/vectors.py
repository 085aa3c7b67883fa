"""Passage vectors of one index generation, stored beside its Whoosh segments.

    <generation>/vectors.npy    float32 (passages × dim), L2-normalized rows
    <generation>/vectors.json   model, dim, and per row: article id, language, passage hash

Rows of one article are contiguous; an article's score for a query is its best passage's.
Files are written under temporary names and renamed, and the generation directory itself
is only published when complete (store.py), so readers never see a partial matrix.
"""
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MATRIX = "vectors.npy"
META = "vectors.json"
MIN_LANGUAGE_ARTICLES = 30  # below this, a language's score spread is too noisy ...
MIN_CENTER_ARTICLES = 3     # ... and below this, its mean
# An article's counterpart in another language must stand out among that language's articles:
# by z-score where there are enough of them (xquad-dev: 359 of 360 shown were the translation),
# else by a cosine margin over the runner-up.
COUNTERPART_MIN_Z = 3.0
COUNTERPART_MIN_MARGIN = 0.03


@dataclass
class VectorSet:
    model: str
    ids: list[str]          # article id per row
    langs: list[str]        # article language per row
    hashes: list[str]       # passage hash per row (the embedding cache key)
    matrix: np.ndarray      # (rows, dim) float32

    def __post_init__(self):
        # Article boundaries: rows [starts[i], starts[i+1]) belong to articles[i].
        starts = [i for i in range(len(self.ids)) if i == 0 or self.ids[i] != self.ids[i - 1]]
        self.starts = np.asarray(starts, dtype=np.int64)
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
        return cls(model=meta["model"], ids=[r[0] for r in rows], langs=[r[1] for r in rows],
                   hashes=[r[2] for r in rows], matrix=matrix)

    def rows_of(self, article_id: str) -> np.ndarray:
        n = self.position.get(article_id)
        if n is None:
            return self.matrix[:0]
        end = self.starts[n + 1] if n + 1 < len(self.starts) else len(self.ids)
        return self.matrix[self.starts[n]:end]

    def article_scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every article's best passage to the query (one per article)."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(self.matrix @ query_vector, self.starts)

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
        # One pass per statistic over every article, grouped by a language code per article
        # (bincount), instead of one masked copy per language per statistic: 16 → 3 ms per
        # query at 100,000 articles.
        names, codes, counts = self._language_groups
        x = np.asarray(scores, dtype=np.float64)
        per = np.maximum(counts, 1)
        means = np.bincount(codes, weights=x, minlength=len(names)) / per
        centered = x - np.where(counts >= MIN_CENTER_ARTICLES, means, x.mean())[codes]
        spread = centered - (np.bincount(codes, weights=centered, minlength=len(names)) / per)[codes]
        stds = np.sqrt(np.bincount(codes, weights=spread * spread, minlength=len(names)) / per) + 1e-6
        stds = np.where(counts >= MIN_LANGUAGE_ARTICLES, stds, centered.std() + 1e-6)
        return (centered / stds[codes]).astype(np.float32)

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

    def query_scores(self, query_vector: np.ndarray, standardize: bool = False) -> np.ndarray:
        """Every article's score for the query: cosine of its best passage, or with standardize
        its per-language z-score (see standardized)."""
        scores = self.article_scores(query_vector)
        return self.standardized(scores) if standardize else scores

    def top(self, scores: np.ndarray, k: int, allowed=None) -> list[tuple[str, float]]:
        """Top-k (article id, score) of query_scores; allowed (a boolean mask over the
        articles) may restrict them."""
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.articles[i], float(scores[i])) for i in top]

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
        scores = np.maximum.reduceat((self.matrix @ np.asarray(rows).T).max(axis=1), self.starts)
        z = self.standardized(scores)
        own = self.article_langs[n]
        found = []
        for lang, mask in sorted(self.language_masks.items()):
            if lang == own:
                continue
            members = np.flatnonzero(mask)
            order = members[np.argsort(-scores[members], kind="stable")]
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
        tmp_matrix = gen_dir / (MATRIX + ".tmp.npy")
        np.save(tmp_matrix, np.ascontiguousarray(self.matrix, dtype=np.float32))
        meta = {"model": self.model, "dim": self.dim,
                "rows": [[i, lang, h] for i, lang, h in zip(self.ids, self.langs, self.hashes)]}
        tmp_meta = gen_dir / (META + ".tmp")
        tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp_matrix, gen_dir / MATRIX)
        os.replace(tmp_meta, gen_dir / META)

