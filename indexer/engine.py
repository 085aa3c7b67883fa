"""The search core: one object over the live index generation, used by the CLI and the web app.

    engine = SearchEngine(index_dir)
    engine.search(SearchRequest("ไฮฟอง")).results

Thread-safe. Each call checks (one stat) whether a reindex published a newer
generation and switches to it; each thread keeps its own Whoosh searcher.
"""
import threading
import time
from datetime import datetime, time as dtime
from pathlib import Path

from whoosh import query as Q
from whoosh.filedb.filestore import FileStorage
from whoosh.scoring import BM25F

from analyzers import FIELD_LANGUAGES, field_language

from . import store
from .facets import search_page_with_facets
from .query_cache import QueryCache
from .query import build_query, field_analyzer, parse_user_query, query_terms
from .results import Hit, SearchError, SearchRequest, SearchResponse
from .snippets import make_snippet

# Pyserini's BM25 defaults; on xquad-dev they beat Whoosh's (1.2, 0.75) in every language
# (MRR@10 th .936→.959, zh .931→.953, ar .901→.916, vi .936→.946).
BM25_K1, BM25_B = 0.9, 0.4


class _Generation:
    """An opened index generation (shared by threads; searchers are per thread)."""

    def __init__(self, root: Path, name: str):
        self.name = name
        self.dir = store.generation_dir(root, name)
        self.manifest = store.read_manifest(self.dir)
        # Without mmap: Whoosh copies every mmapped compound sub-file into a BytesIO, i.e.
        # the whole index into each thread's searcher (10k articles: +240 MB per searcher).
        self.index = FileStorage(str(self.dir), supports_mmap=False).open_index()
        self.local = threading.local()

    def searcher(self):
        s = getattr(self.local, "searcher", None)
        if s is None:
            s = self.index.searcher(weighting=BM25F(B=BM25_B, K1=BM25_K1))
            self.local.searcher = s
        return s


class SearchEngine:
    def __init__(self, index_dir=None):
        self.root = Path(index_dir) if index_dir else store.default_index_dir()
        self._lock = threading.Lock()
        self._gen: _Generation | None = None
        self._current_stat = None
        self.cache = QueryCache()
        self._refresh(force=True)
        if self._gen is None:
            raise FileNotFoundError(
                f"no index at {self.root}: build one with `polysearch index --index {self.root}`")

    # -- generations ---------------------------------------------------------
    def _refresh(self, force: bool = False) -> None:
        try:
            st = (self.root / store.CURRENT).stat()
            stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            stamp = None
        if not force and stamp == self._current_stat:
            return
        with self._lock:
            name = store.current_generation(self.root)
            if name and (self._gen is None or self._gen.name != name):
                self._gen = _Generation(self.root, name)
            self._current_stat = stamp

    @property
    def generation(self) -> _Generation:
        self._refresh()
        return self._gen

    # -- search --------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResponse:
        request.validate()
        started = time.perf_counter()
        generation = self.generation
        cached = self.cache.get(generation.name, request)
        if cached is not None:
            cached.took_ms = round((time.perf_counter() - started) * 1000, 2)
            return cached
        searcher = generation.searcher()
        parsed, query_langs, query = self._compile(request.query)
        query_lang = query_langs[0] if query_langs else None
        filters = self._filters(request)

        response = SearchResponse(query=request.query, total=0, took_ms=0.0, page=request.page,
                                  size=request.size, results=[], mode="lexical",
                                  query_langs=query_langs)
        # The page and the facet counts come from one scoring pass.
        results, response.facets = search_page_with_facets(
            searcher, str(generation.dir), query or Q.Every(), filters, request.page, request.size)
        if query is not None:
            response.total = results.total
            terms = self._highlight_terms(parsed, query_lang)
            # Whoosh answers a page past the end with the last page; we answer it with nothing.
            hits = results if results.pagenum == request.page else []
            for hit in hits:
                response.results.append(self._hit(hit, hit.score, terms))
        response.took_ms = round((time.perf_counter() - started) * 1000, 2)
        self.cache.put(generation.name, request, response)
        return response

    def _filters(self, request: SearchRequest) -> Q.Query | None:
        parts = []
        if request.lang:
            parts.append(Q.Term("lang", request.lang))
        if request.source:
            parts.append(Q.Term("source", request.source))
        if request.entity:
            parts.append(Q.Term("entities", request.entity))
        if request.date_from or request.date_to:
            start = datetime.combine(request.date_from, dtime.min) if request.date_from else None
            end = datetime.combine(request.date_to, dtime.max) if request.date_to else None
            parts.append(Q.DateRange("date", start, end))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Q.And(parts)

    def _highlight_terms(self, parsed, query_lang) -> dict[str, set[str]]:
        """Query terms per field language (what the snippet of a document in that language marks)."""
        text = " ".join([parsed.text] + parsed.phrases)
        return {lang: set(query_terms(text, lang, query_lang=query_lang)) for lang in FIELD_LANGUAGES}

    def _hit(self, hit, score: float, terms: dict[str, set[str]]) -> Hit:
        f = hit.fields()
        flang = field_language(f.get("lang"))
        snippet = make_snippet(f.get("body") or "", terms[flang], field_analyzer(flang))
        date = f.get("date")
        return Hit(id=f["id"], title=f.get("title") or "", lang=f.get("lang") or "",
                   date=date.date().isoformat() if date else None,
                   source=f.get("source") or None, url=f.get("url") or None,
                   score=round(float(score), 4), snippet=snippet)

    def _compile(self, text: str):
        """(parsed query, detected query languages, Whoosh query or None if nothing to search)."""
        parsed = parse_user_query(text)
        query_langs = self._query_langs(text)
        query = None if parsed.empty else build_query(parsed, query_langs[0] if query_langs else None)
        return parsed, query_langs, query

    @staticmethod
    def _query_langs(text: str) -> list[str]:
        if not text.strip():
            return []
        try:
            from analyzers.langid import detect_language
        except ImportError:
            return []
        lang = detect_language(text)
        return [lang] if lang and lang != "und" else []

    # -- batch retrieval (evaluation) -----------------------------------------
    def retrieve(self, text: str, k: int = 100, lang: str | None = None,
                 mode: str = "lexical") -> list[tuple[str, float]]:
        """Top-k (doc id, score) for a query string, without snippets or facets."""
        _, _, query = self._compile(text)
        if query is None:
            return []
        searcher = self.generation.searcher()
        filt = Q.Term("lang", lang) if lang else None
        return [(hit["id"], float(hit.score)) for hit in searcher.search(query, limit=k, filter=filt)]

    # -- articles and health ---------------------------------------------------
    def article(self, article_id: str) -> dict | None:
        if not isinstance(article_id, str) or not article_id or len(article_id) > 1000:
            return None
        fields = self.generation.searcher().document(id=article_id)
        if fields is None:
            return None
        date = fields.get("date")
        entities = fields.get("entities") or ""
        return {
            "id": fields["id"], "title": fields.get("title") or "", "body": fields.get("body") or "",
            "lang": fields.get("lang") or "", "date": date.date().isoformat() if date else None,
            "source": fields.get("source") or None, "url": fields.get("url") or None,
            "entities": [e for e in entities.split(",") if e],
        }

    def health(self) -> dict:
        gen = self.generation
        return {
            "status": "ok",
            "generation": gen.name,
            "created": gen.manifest.get("created"),
            "documents": gen.manifest.get("documents", 0),
            "langs": gen.manifest.get("langs", {}),
            "dense": {"available": False, "reason": "no vectors in this index"},
        }


__all__ = ["SearchEngine", "SearchError", "SearchRequest"]
