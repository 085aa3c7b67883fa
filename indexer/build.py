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
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.query import Every
from whoosh.sorting import Count

from analyzers import EXACT_LANGUAGES, field_language

from .article import Article, CorpusError
from .corpus import article_hash, read_corpus
from .schema import build_schema
from . import store

# Bump when analysis or the schema changes: an index of another format is rebuilt, not patched.
INDEX_FORMAT = 3
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


def tag_entities(article: Article) -> list[str]:
    try:
        from analyzers.lexicon import default_lexicon
    except ImportError:
        return []
    return sorted(default_lexicon().entities_in(f"{article.title}\n{article.body}"))


def document_fields(article: Article, content_hash: str) -> dict:
    """The Whoosh document for an article (text goes to its language's fields)."""
    lang = article.lang or detect_lang(article)
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
    if article.date:
        try:
            when = datetime.fromisoformat(article.date)
            doc["date"] = when
            doc["year"] = str(when.year)
        except ValueError:
            pass
    entities = tag_entities(article)
    if entities:
        doc["entities"] = ",".join(entities)
    return doc


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
        return {f["id"]: f.get("hash") for f in s.all_stored_fields()}


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


def build_index(corpus_dir, index_dir=None, rebuild: bool = False, progress: bool = False,
                procs: int | None = None, on_error=None) -> IndexSummary:
    """Bring the index at index_dir up to date with corpus_dir; returns what changed.

    on_error(CorpusError) is called for every unreadable file or line as it is found.
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
        old_hashes = _stored_hashes(store.generation_dir(root, base)) if base else {}
        summary = IndexSummary(generation=None)

        # Pass 1: read and hash the corpus, decide what changes.
        to_index: list[tuple[Article, str]] = []
        seen: set[str] = set()
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
                continue
            if item.id in old_hashes:
                summary.updated += 1
            else:
                summary.added += 1
            to_index.append((item, h))
        removed = [doc_id for doc_id in old_hashes if doc_id not in seen]
        summary.deleted = len(removed)

        if base and not summary.changed:
            summary.generation = base
            summary.documents = len(old_hashes)
            summary.langs = store.read_manifest(store.generation_dir(root, base)).get("langs", {})
            summary.seconds = time.monotonic() - started
            return summary

        # Pass 2: write a new generation.
        tmp = store.new_generation(root, base)
        try:
            if base:
                ix = whoosh_index.open_dir(str(tmp))
            else:
                ix = whoosh_index.create_in(str(tmp), build_schema())
            procs = procs or min(2, os.cpu_count() or 1)
            if procs > 1 and len(to_index) >= PARALLEL_THRESHOLD:
                _bind_workers_to_this_process()
                writer = ix.writer(procs=procs, multisegment=True, limitmb=WRITER_MEMORY_MB)
            else:
                writer = ix.writer(limitmb=WRITER_MEMORY_MB)
            bar = _Progress(progress)
            try:
                for doc_id in removed:
                    writer.delete_by_term("id", doc_id)
                for article, h in to_index:
                    if article.id in old_hashes:
                        writer.delete_by_term("id", article.id)
                    writer.add_document(**document_fields(article, h))
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
            manifest = {
                "created": datetime.now().isoformat(timespec="seconds"),
                "corpus": str(corpus_dir.resolve()),
                "documents": summary.documents,
                "langs": summary.langs,
                "base": base,
                "format": INDEX_FORMAT,
            }
            summary.generation = store.publish_generation(root, tmp, manifest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        store.remove_stale(root)
    summary.seconds = time.monotonic() - started
    return summary
