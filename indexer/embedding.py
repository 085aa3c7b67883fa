"""The vector half of a reindex: embed what changed, reuse the rest, write the generation's VectorSet.

An incremental reindex reuses the previous generation's rows: whole articles whose content
hash is unchanged, and, inside changed articles, every passage whose text is unchanged (the
passage hash is the cache key). Only new passage texts go through the model.
"""
import sys
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .article import Article
from .dense import get_encoder, unavailable_reason
from .passages import article_passages, passage_hash
from .vectors import VectorSet

BATCH = 16  # passages per model call: the engine batches internally; this sets progress granularity
# Passage vectors this process computed recently, by passage hash: a process that reindexes more
# than once (a test session, a benchmark, a rebuild into a new index directory) embeds each text once.
PROCESS_CACHE_SIZE = 50_000
_process_cache: "OrderedDict[str, np.ndarray]" = OrderedDict()


@dataclass
class VectorReport:
    available: bool
    reason: str | None = None
    model: str | None = None
    articles: int = 0
    passages: int = 0
    embedded: int = 0          # passages that went through the model in this reindex
    reused: int = 0            # passages copied from the previous generation (or this process's cache)
    seconds: float = 0.0       # time spent in the model

    @property
    def passages_per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passages_per_second"] = round(self.passages_per_second, 2)
        d["seconds"] = round(self.seconds, 2)
        return d


def reusable_vectors(base_dir: Path | None) -> VectorSet | None:
    """The previous generation's vectors, if they were made by the model we would use now."""
    encoder = get_encoder()
    if base_dir is None or encoder is None:
        return None
    try:
        base = VectorSet.load(base_dir)
    except (OSError, ValueError, KeyError):
        return None  # unreadable: recompute rather than trust it
    return base if base is not None and base.model == encoder.name and base.dim == encoder.dim else None


def build_vectors(gen_dir: Path, base: VectorSet | None, kept_ids: list[str],
                  articles: list[Article], progress: bool = False) -> VectorReport:
    """Write gen_dir's vectors: base rows for kept_ids, new rows for articles (lang already set)."""
    encoder = get_encoder()
    if encoder is None:
        return VectorReport(available=False, reason=unavailable_reason())
    ids, langs, hashes, rows = [], [], [], []      # rows: base row index or ("new", position)
    cache = {h: i for i, h in enumerate(base.hashes)} if base is not None else {}
    for doc_id in kept_ids:
        n = base.position[doc_id]
        start = int(base.starts[n])
        end = int(base.starts[n + 1]) if n + 1 < len(base.starts) else len(base.ids)
        for row in range(start, end):
            ids.append(doc_id), langs.append(base.langs[row]), hashes.append(base.hashes[row])
            rows.append(row)
    todo: dict[str, str] = {}                         # passage hash -> text, first occurrence
    for article in articles:
        for text in article_passages(article, encoder.token_count):
            h = passage_hash(text)
            ids.append(article.id), langs.append(article.lang or ""), hashes.append(h)
            if h in cache:
                rows.append(cache[h])
            else:
                rows.append(None)
                todo.setdefault(h, text)

    report = VectorReport(available=True, model=encoder.name, passages=len(ids),
                          articles=len(set(ids)), reused=sum(r is not None for r in rows))
    recent = {h: _process_cache[h] for h in todo if h in _process_cache}
    report.reused += sum(1 for h, row in zip(hashes, rows) if row is None and h in recent)
    missing = {h: text for h, text in todo.items() if h not in recent}
    fresh = _embed(encoder, list(missing.values()), progress, report)
    for h, vector in zip(missing, fresh):
        recent[h] = vector
        _process_cache[h] = vector
        if len(_process_cache) > PROCESS_CACHE_SIZE:
            _process_cache.popitem(last=False)
    matrix = np.empty((len(ids), encoder.dim), dtype=np.float32)
    for i, (row, h) in enumerate(zip(rows, hashes)):
        matrix[i] = base.matrix[row] if row is not None else recent[h]
    VectorSet(model=encoder.name, ids=ids, langs=langs, hashes=hashes, matrix=matrix).save(gen_dir)
    return report


def _embed(encoder, texts: list[str], progress: bool, report: VectorReport) -> np.ndarray:
    bar = None
    if progress and texts:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc="embedding", unit=" passages", file=sys.stderr,
                   disable=None, mininterval=0.5)
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    started = time.perf_counter()
    try:
        for i in range(0, len(texts), BATCH):
            batch = texts[i:i + BATCH]
            out[i:i + len(batch)] = encoder.passages(batch)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    report.seconds = time.perf_counter() - started
    report.embedded = len(texts)
    return out
