"""Reindexing: corpus in, a new complete index generation out.

Incremental by default: each article carries a content hash, and only new or
changed articles are analyzed; articles whose files disappeared are deleted.
The work happens in a new generation directory that becomes live atomically
(see store.py). Analysis runs in worker processes (Whoosh's MpWriter) when
there is enough to do to pay for them.
"""
import multiprocessing
from multiprocessing import util as mp_util
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.query import Every
from whoosh.sorting import Count

from analyzers import EXACT_LANGUAGES, field_language, initialize as load_dictionaries

from .article import Article, CorpusError
from .corpus import article_hash, read_corpus
from .docwriter import pooling_fields_in_c
from .deflate import whoosh_compressing_here
from .dense import get_encoder, unavailable_reason
from .embedding import VectorReport, build_vectors, reusable_vectors
from .postingpool import chunked_posting_pool
from .termwriter import term_at_a_time_field_writer
from .wordspans import storing_word_spans
from .schema import build_schema
from . import store

# Bump when analysis or the schema changes: an index of another format is rebuilt, not patched.
INDEX_FORMAT = 6   # 6: Thai and Chinese bodies' word spans stored (wordspans.py)
PARALLEL_THRESHOLD = 200   # below this many documents, worker processes cost more than they save
WRITER_MEMORY_MB = 256


@dataclass
class IndexSummary:
    generation: str | None
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    documents: int = 0
    seconds: float = 0.0
    errors: list[CorpusError] = field(default_factory=list)
    langs: dict[str, int] = field(default_factory=dict)
    vectors: VectorReport | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def __str__(self):
        return (f"{self.documents} documents in generation {self.generation}: "
                f"{self.added} added, {self.updated} updated, {self.deleted} deleted, "
                f"{self.unchanged} unchanged, {self.failed} failed, in {self.seconds:.1f}s")


def detect_lang(article: Article) -> str:
    from analyzers.langid import detect_language

    return detect_language(f"{article.title}\n{article.body[:3000]}")


MAX_ENTITY_MENTIONS = 8  # beyond this, more mentions say little more about what an article is about


def tag_entities(article: Article) -> list[str]:
    """Entity ids the article mentions, each repeated once per mention (title mentions count
    twice, capped), so that the entities field's term frequency says how much it is about one."""
    from analyzers.lexicon import get_lexicon

    lexicon = get_lexicon()
    counts: dict[str, int] = {}
    title = "" if article.title_derived else article.title
    for weight, text in ((2, title), (1, article.body)):
        for mention in lexicon.find(text):
            counts[mention.entity_id] = counts.get(mention.entity_id, 0) + weight
    return [e for e in sorted(counts) for _ in range(min(counts[e], MAX_ENTITY_MENTIONS))]


def article_date(article: Article) -> datetime | None:
    """The article's date as the index keeps it (None if it has none, or not an ISO date)."""
    if not article.date:
        return None
    try:
        return datetime.fromisoformat(article.date)
    except ValueError:
        return None


def document_fields(article: Article, content_hash: str) -> dict:
    """The Whoosh document for an article (text goes to its language's fields)."""
    lang = article.lang = article.lang or detect_lang(article)
    flang = field_language(lang)
    doc = {
        "id": article.id, "title": article.title, "body": article.body,
        "url": article.url, "path": article.path, "hash": content_hash,
        "lang": lang, "source": article.source or "",
        f"body_{flang}": article.body,
    }
    # A title derived from the body would count the first sentence twice (and boosted):
    # on xquad-dev that cost 3-9 points of MRR@10.
    indexed_title = "" if article.title_derived else article.title
    if indexed_title:
        doc[f"title_{flang}"] = indexed_title
    if flang in EXACT_LANGUAGES:
        if indexed_title:
            doc[f"title_{flang}_exact"] = indexed_title
        doc[f"body_{flang}_exact"] = article.body
    when = article_date(article)
    if when is not None:
        doc["date"] = when
        doc["year"] = str(when.year)
    entities = tag_entities(article)
    if entities:
        doc["entities"] = ",".join(entities)
    return doc


def vector_reason(requested: bool) -> str | None:
    return "not requested (--no-vectors)" if not requested else unavailable_reason()


class _WorkerHook:
    """Owner of the after-fork hook (multiprocessing keeps only a weak reference to it)."""


_WORKER_HOOK = None


def _die_with_parent(_owner=None) -> None:
    """In a writer worker: get SIGKILL when the reindex process dies (Linux).

    Whoosh's MpWriter workers are forked and so share the reindex's write-lock
    descriptor. Without this, a reindex killed with SIGKILL leaves them running:
    they keep the lock (the next `polysearch index` says "busy") and keep writing
    into the abandoned generation until their queue runs dry (~15 s measured).
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)                            # the reindex died before the hook was set


def _bind_workers_to_this_process() -> None:
    global _WORKER_HOOK
    if _WORKER_HOOK is None and sys.platform.startswith("linux"):
        _WORKER_HOOK = _WorkerHook()
        mp_util.register_after_fork(_WORKER_HOOK, _die_with_parent)


def _stored_hashes(gen_dir: Path) -> dict[str, str]:
    ix = whoosh_index.open_dir(str(gen_dir))
    with ix.searcher() as s:
        # From the id and hash columns, not the stored fields (which unpickle every body).
        reader = s.reader()
        ids, hashes = reader.column_reader("id"), reader.column_reader("hash")
        return {ids[doc]: hashes[doc] for doc in reader.all_doc_ids()}


class _Progress:
    """A progress bar on a terminal, periodic lines otherwise (logs, CI)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.count = 0
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(desc="indexing", unit=" articles", file=sys.stderr,
                            disable=None, mininterval=0.5)

    def update(self, n=1):
        self.count += n
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _changed_articles(corpus_dir: Path, old_hashes: dict[str, str], summary: IndexSummary,
                      on_error, seen: set[str], keep_unchanged, unchanged: list[Article]):
    """The corpus's new and changed articles as (article, content hash), as they are read.

    Counts what it reads in summary (added, updated, unchanged, failed, errors) and the ids in
    seen; unreadable items go to on_error as they are found; an unchanged article that
    keep_unchanged(article) asks for (its vectors must be made) is appended to unchanged."""
    for item in read_corpus(corpus_dir):
        if isinstance(item, CorpusError):
            summary.failed += 1
            summary.errors.append(item)
            if on_error:
                on_error(item)
            continue
        seen.add(item.id)
        h = article_hash(item)
        if old_hashes.get(item.id) == h:
            summary.unchanged += 1
            if keep_unchanged(item):
                unchanged.append(item)
            continue
        if item.id in old_hashes:
            summary.updated += 1
        else:
            summary.added += 1
        yield item, h


def build_index(corpus_dir, index_dir=None, rebuild: bool = False, progress: bool = False,
                procs: int | None = None, on_error=None, vectors: bool = True) -> IndexSummary:
    """Bring the index at index_dir up to date with corpus_dir; returns what changed.

    on_error(CorpusError) is called for every unreadable file or line as it is found.
    vectors: also compute passage vectors for dense search (when the model can run here).
    """
    started = time.monotonic()
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"corpus directory not found: {corpus_dir}")
    root = Path(index_dir) if index_dir else store.default_index_dir()
    with store.write_lock(root):
        store.remove_stale(root)
        base = None if rebuild else store.current_generation(root)
        if base and store.read_manifest(store.generation_dir(root, base)).get("format") != INDEX_FORMAT:
            base = None  # built by an older polysearch: rebuild with the current analysis
        base_dir = store.generation_dir(root, base) if base else None
        old_hashes = _stored_hashes(base_dir) if base else {}
        summary = IndexSummary(generation=None)
        want_vectors = vectors and get_encoder() is not None
        # Vectors are keyed by passage text, not by index format: even a full rebuild reuses
        # the live generation's rows and embeds only passages it has not seen.
        live = store.current_generation(root)
        base_vectors = reusable_vectors(store.generation_dir(root, live) if live else None) \
            if want_vectors else None
        # Unchanged articles without reusable rows must be embedded too: keep those in memory.
        unchanged: list[Article] = []

        # Pass 1: read and hash the corpus, decide what changes. An incremental run reads it
        # all first (nothing may have changed); a rebuild streams it into the writer, so the
        # analysis starts at once instead of after the whole corpus was read (~9 s of one busy
        # core at 100k articles, the other idle).
        seen: set[str] = set()
        keep_unchanged = (lambda a: base_vectors is None or a.id not in base_vectors.position) \
            if want_vectors else (lambda a: False)
        changes = _changed_articles(corpus_dir, old_hashes, summary, on_error, seen,
                                    keep_unchanged, unchanged)
        removed: list[str] = []
        if base:
            changes = list(changes)
            removed = [doc_id for doc_id in old_hashes if doc_id not in seen]
            summary.deleted = len(removed)
            # A generation written before the int8 copy of its vectors existed
            # (indexer/quantized) gets a new generation with one, its segments linked and its
            # rows reused.
            without_int8 = base_vectors is not None and base_vectors.codes is None and len(base_vectors) > 0
            if not summary.changed and not unchanged and not without_int8:
                summary.generation = base
                summary.documents = len(old_hashes)
                summary.langs = store.read_manifest(store.generation_dir(root, base)).get("langs", {})
                summary.seconds = time.monotonic() - started
                return summary

        # Pass 2: write a new generation.
        tmp = store.new_generation(root, base)
        indexed: list[Article] = []
        try:
            if base:
                ix = whoosh_index.open_dir(str(tmp))
            else:
                ix = whoosh_index.create_in(str(tmp), build_schema())
            procs = procs or min(2, os.cpu_count() or 1)
            bar = _Progress(progress)
            with chunked_posting_pool(), term_at_a_time_field_writer(), storing_word_spans(), \
                    pooling_fields_in_c(), whoosh_compressing_here():
                changes = iter(changes)
                head = list(islice(changes, PARALLEL_THRESHOLD))
                if procs > 1 and len(head) >= PARALLEL_THRESHOLD:
                    _bind_workers_to_this_process()
                    # The writer processes are forked from this one: jieba's dictionary and
                    # newmm's trie loaded here once, not once in each (~1.5 CPU-s apiece).
                    load_dictionaries()
                    writer = ix.writer(procs=procs, multisegment=True, limitmb=WRITER_MEMORY_MB)
                else:
                    writer = ix.writer(limitmb=WRITER_MEMORY_MB)
                try:
                    for doc_id in removed:
                        writer.delete_by_term("id", doc_id)
                    for article, h in chain(head, changes):
                        if article.id in old_hashes:
                            writer.delete_by_term("id", article.id)
                        writer.add_document(**document_fields(article, h))
                        indexed.append(article)
                        bar.update()
                    if progress:
                        print("indexing: committing segments ...", file=sys.stderr)
                    writer.commit()
                except BaseException:
                    writer.cancel()
                    raise
                finally:
                    bar.close()
            with ix.searcher() as s:
                summary.documents = s.doc_count()
                # From the sortable lang column: no need to unpickle every stored body again.
                by_lang = s.search(Every(), limit=1, groupedby="lang", maptype=Count).groups("lang")
            summary.langs = dict(sorted(by_lang.items()))
            ix.close()
            if want_vectors:
                for article in unchanged:
                    article.lang = article.lang or detect_lang(article)
                waiting = {a.id for a in unchanged}
                changed_ids = {a.id for a in indexed} | set(removed)
                kept = [i for i in base_vectors.articles if i in old_hashes
                        and i not in changed_ids and i not in waiting] if base_vectors else []
                summary.vectors = build_vectors(tmp, base_vectors, kept, unchanged + indexed, progress)
            else:
                summary.vectors = VectorReport(available=False, reason=vector_reason(vectors))
            manifest = {
                "created": datetime.now().isoformat(timespec="seconds"),
                "corpus": str(corpus_dir.resolve()),
                "documents": summary.documents,
                "langs": summary.langs,
                "base": base,
                "format": INDEX_FORMAT,
                "vectors": summary.vectors.to_dict(),
            }
            summary.generation = store.publish_generation(root, tmp, manifest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        store.remove_stale(root)
    summary.seconds = time.monotonic() - started
    return summary
