"""The search core: one object over the live index generation, used by the CLI and the web app.

    engine = SearchEngine(index_dir)
    engine.search(SearchRequest("ไฮฟอง")).results

Thread-safe. Each call checks (one stat) whether a reindex published a newer
generation and switches to it; each thread keeps its own Whoosh searcher.
"""
import math
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime, time as dtime
from pathlib import Path

import numpy as np
from whoosh import query as Q
from whoosh.filedb.filestore import FileStorage
from whoosh.scoring import BM25F

from analyzers import FIELD_LANGUAGES, field_language

from . import store
from .dense import get_encoder, unavailable_reason
from .expansion import expansion_query, query_entities
from .fieldlengths import install_lengths, load_lengths
from .arrayscore import PostingCache, matching_docnums
from .facets import FacetTally, facet_counts, filtered_matches
from .fusion import reciprocal_rank_fusion, score_weights
from .query import build_query, constraint_query, field_analyzer, parse_user_query
from .query_cache import QueryCache
from .results import Hit, SearchError, SearchRequest, SearchResponse
from .snippets import make_snippet
from .stored import stored_fields
from .vectors import VectorSet
from .wordspans import BODY_SPANS

# Pyserini's BM25 defaults; on xquad-dev they beat Whoosh's (1.2, 0.75) in every language
# (MRR@10 th .936→.959, zh .931→.953, ar .901→.916, vi .936→.946).
BM25_K1, BM25_B = 0.9, 0.4
# How deep each list goes into fusion: RRF only needs the heads, and the evaluation reads 100.
FUSION_DEPTH = 100
# Dense candidates are ranked by per-language z-scores (VectorSet.standardized). e5 gives every
# text some similarity, so a candidate must be above its language's average (DENSE_MIN_Z), and,
# when no article matches the query's words at all, stand far out (DENSE_ALONE_MIN_Z: on
# xquad-dev gold paragraphs score a median 3.7, and nonsense such as "xyzzy" reaches 2.6-3.1).
DENSE_MIN_Z = 0.5
DENSE_ALONE_MIN_Z = 3.0
# A lexical vote in the fusion weighs (BM25 / best BM25 of the query) ** LEXICAL_SCORE_POWER, so a
# weak match (a shared number, a loanword, a same-language near-miss) does not count like the
# best one. Measured on xquad-dev against plain RRF: language bias (other-language gold below a
# non-relevant same-language article) 98% → 75%, top-10 share of the query's language 80% → 33%,
# monolingual MRR@10 .966 → .965 (still above lexical in every language), cross-language .830 → .834.
LEXICAL_SCORE_POWER = 2.0
RELATED_PER_LANGUAGE = 1
# What the model reads of a query: questions and descriptions fit; a pasted page would cost up to
# 512 tokens of model time (~0.3 s) for no better a match than its opening.
MAX_DENSE_QUERY_CHARS = 300
# A query that is (almost) only names of known entities (ไฮฟอง, 同奈省, "Hà Tĩnh Laos") is answered
# by the lexicon's names in every script; the model has little to go on in a bare name (it ranked
# a Thai article about another province first for ไฮฟอง), and RRF's flat head would let it
# overturn the name match. Hybrid search then ranks lexically.
NAME_QUERY_SHARE = 0.8
# While the query is embedded on the other thread, hybrid search makes the hits of the first
# lexical ranks of the page (the fused page shares them), and stops once the vector is made: the
# int8 product then runs on both cores. The whole page's lexical hits were made before, until the
# dense scores were ready: the fusion dropped most of the tail's, and making them took the core
# the product needed. Alternating per query, the same pages, hybrid p50 for shares 1.0 / 0.5 /
# 0.3 / 0 (stopping when the dense scores were ready): 100k articles 20.9 / 19.9 / 19.3 ms, then
# 21.4 / - / 19.8 / 20.1 ms; 10k 13.1 / 12.6 / 12.4 ms, then 11.9 / - / 11.4 / 12.0 ms. Stopping
# when the vector is made, 0.5 against 0.3 stopping when the scores were: 100k 18.77 -> 18.37 and
# 17.75 -> 17.60 ms, 10k 9.37 -> 9.27 and 11.30 -> 11.13 ms (a whole page's share did no better:
# with two lists, RRF takes about half the page from the head of each).
EARLY_HIT_SHARE = 0.5


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
        self._docnums: dict[str, int] | None = None
        self._ids: list[str] = []
        self._vector_rows: np.ndarray | None = None
        self._docnums_lock = threading.Lock()
        self._lengths = None
        self.postings = PostingCache()      # long posting lists, decoded (see arrayscore)
        try:
            self.vectors: VectorSet | None = VectorSet.load(self.dir)
            self.vectors_error = None
        except (OSError, ValueError, KeyError) as exc:  # unreadable vectors: search stays lexical
            self.vectors, self.vectors_error = None, f"{type(exc).__name__}: {exc}"

    def docnum_of(self, searcher) -> dict[str, int]:
        """id → docnum of every live document (dense candidates arrive as ids), built once."""
        if self._docnums is None:
            with self._docnums_lock:
                if self._docnums is None:
                    reader = searcher.reader()
                    ids = reader.column_reader("id")
                    self._ids = [ids[d] for d in range(reader.doc_count_all())]
                    self._docnums = {self._ids[d]: d for d in reader.all_doc_ids()}
        return self._docnums

    def id_of(self, searcher) -> list[str]:
        """docnum → id (a MultiReader's id column costs ~6 ms to open per query at 10k articles)."""
        self.docnum_of(searcher)
        return self._ids

    def vector_row_of(self, searcher) -> np.ndarray:
        """docnum → the article's position in self.vectors (-1 for none), built once (a race
        between two threads builds it twice, harmlessly)."""
        if self._vector_rows is None:
            docnum_of = self.docnum_of(searcher)
            rows = np.full(max(docnum_of.values(), default=-1) + 1, -1, dtype=np.int64)
            for doc_id, n in self.vectors.position.items():
                if doc_id in docnum_of:
                    rows[docnum_of[doc_id]] = n
            self._vector_rows = rows
        return self._vector_rows

    def searcher(self):
        s = getattr(self.local, "searcher", None)
        if s is None:
            s = self.index.searcher(weighting=BM25F(B=BM25_B, K1=BM25_K1))
            if self._lengths is None:     # two threads may both load them: same bytes, harmless
                self._lengths = load_lengths(s)
            install_lengths(s, self._lengths)
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
        gen = self.generation
        cached = self.cache.get(gen.name, request)
        if cached is not None:
            cached.took_ms = round((time.perf_counter() - started) * 1000, 2)
            return cached
        searcher = gen.searcher()
        compiled, mode, pending = self._prepare(gen, request.query, request.mode)
        filters = self._filters(request)
        response = SearchResponse(query=request.query, total=0, took_ms=0.0, page=request.page,
                                  size=request.size, results=[], mode=mode,
                                  query_langs=compiled.query_langs)
        if mode == "lexical":
            self._lexical_page(gen, searcher, compiled, filters, request, response)
        else:
            self._fused_page(gen, searcher, compiled, filters, request, response, pending)
        response.took_ms = round((time.perf_counter() - started) * 1000, 2)
        self.cache.put(gen.name, request, response)
        return response

    def _lexical_page(self, gen, searcher, compiled, filters, request, response) -> None:
        # The page, the total and the facet counts come from one pass over the matches.
        query = compiled.query
        found = filtered_matches(searcher, query or Q.Every(), filters, gen.postings)
        response.facets = facet_counts(searcher, str(gen.dir), found.matches.docnums, found.lang_docs)
        if query is None:
            return
        response.total = len(found.matches)
        terms = self._highlight_terms(compiled)
        start = (request.page - 1) * request.size
        for score, docnum in found.matches.top(request.page * request.size)[start:]:
            response.results.append(self._hit(stored_fields(searcher, docnum), score, terms))

    def _fused_page(self, gen, searcher, compiled, filters, request, response, pending) -> None:
        """Dense or hybrid: fuse, then count the facets of everything either list matched."""
        depth = max(FUSION_DEPTH, request.page * request.size)
        first, last = (request.page - 1) * request.size, request.page * request.size
        terms = self._highlight_terms(compiled)
        ready: dict[int, Hit] = {}      # docnum -> hit made while the model ran (score set later)
        tally: list[FacetTally] = []

        def while_embedding(found, lexical_top, pending) -> None:
            # The query is still being embedded on the other core and this one would wait: count
            # the lexical matches' facets (needed whatever the fused page holds), then make the
            # hits (snippets are most of a page's cost) of the head of the page's lexical ranks,
            # which the fused page shares, until the vector is ready (EARLY_HIT_SHARE says why
            # not the whole page).
            tally.append(FacetTally(searcher, str(gen.dir), found.matches.docnums, found.lang_docs))
            for _, docnum in lexical_top[first:first + math.ceil(EARLY_HIT_SHARE * request.size)]:
                if pending.embedded.is_set():
                    return
                ready[docnum] = self._hit(stored_fields(searcher, docnum), 0.0, terms)

        ranked, found = self._ranking(gen, searcher, compiled, filters, response.mode, depth,
                                      pending, while_embedding=while_embedding)
        docnum_of = gen.docnum_of(searcher)
        dense_docs = np.array(sorted({docnum_of[doc_id] for doc_id, _ in ranked if doc_id in docnum_of}),
                              dtype=np.int64)
        if not tally:                   # dense mode: no lexical matches
            tally.append(FacetTally(searcher, str(gen.dir), dense_docs[:0], dense_docs[:0]))
        tally[0].add(dense_docs)
        response.facets, response.total = tally[0].facets(), tally[0].total
        for doc_id, score in ranked[first:last]:
            docnum = docnum_of.get(doc_id)
            if docnum in ready:
                response.results.append(replace(ready[docnum], score=round(float(score), 4)))
            elif docnum is not None:
                response.results.append(self._hit(stored_fields(searcher, docnum), score, terms))

    def _ranking(self, gen, searcher, compiled, filters, mode, depth, pending, while_embedding=None):
        """(fused [(id, score)], the lexical matches under the filters or None).

        The query vector, and every article's dense score, are computed on another thread while
        the lexical query is scored (the model's C code and numpy run without the GIL), so
        hybrid costs max(lexical, dense), not the sum. while_embedding(the lexical matches,
        their top [(score, docnum)], the pending dense future) is called between the two, if
        there is a lexical list. pending: the dense scores already started (_prepare).
        """
        lexical: list[tuple[str, float]] = []
        found = None
        if mode == "hybrid" and compiled.query is not None:
            found = filtered_matches(searcher, compiled.query, filters, gen.postings)
            ids = gen.id_of(searcher)
            top = found.matches.top(depth)
            lexical = [(ids[docnum], score) for score, docnum in top]
            if while_embedding is not None:
                while_embedding(found, top, pending)
        min_z = DENSE_MIN_Z if lexical or mode == "dense" else DENSE_ALONE_MIN_Z
        dense = self._dense(gen, searcher, compiled, filters, pending, FUSION_DEPTH, min_z)
        if mode == "dense":
            return dense, found
        fused = reciprocal_rank_fusion([[doc_id for doc_id, _ in lexical], [doc_id for doc_id, _ in dense]],
                                       item_weights=[score_weights(lexical, LEXICAL_SCORE_POWER), None])
        return fused, found

    @staticmethod
    def _embed_later(gen, words) -> "Future":
        """Every article's dense score for the query, being computed on the model's thread."""
        # The caller's mode is dense or hybrid only when the vectors and the model are there.
        # The other thread embeds and takes the product with the passage matrix (C and BLAS,
        # without the GIL); the rest is numpy on small arrays, which holds the GIL, and runs in
        # _dense: on that thread it waited for the GIL while the search thread made hits.
        return get_encoder().query_later(words.dense_text, then=gen.vectors.cosines)

    def _dense(self, gen, searcher, compiled, filters, pending, k, min_z) -> list[tuple[str, float]]:
        restriction = [q for q in (filters, compiled.constraint) if q is not None]
        allowed = None
        if restriction:
            allowed = self._allowed(gen, searcher, Q.And(restriction) if len(restriction) > 1 else restriction[0])
        hits = gen.vectors.top(gen.vectors.standardize(pending.result()), k, allowed=allowed)
        return [(doc_id, score) for doc_id, score in hits if score >= min_z]

    @staticmethod
    def _allowed(gen, searcher, query):
        """Mask over gen.vectors.articles of the documents matching query."""
        if isinstance(query, Q.Term) and query.fieldname == "lang":  # the common filter, no index walk
            mask = gen.vectors.language_masks.get(query.text)
            return mask if mask is not None else np.zeros(len(gen.vectors), dtype=bool)
        rows = gen.vector_row_of(searcher)[matching_docnums(searcher, query, gen.postings)]
        mask = np.zeros(len(gen.vectors), dtype=bool)
        mask[rows[rows >= 0]] = True
        return mask

    @staticmethod
    def _effective_mode(gen, requested: str, compiled) -> str:
        if requested == "lexical" or gen.vectors is None or not len(gen.vectors):
            return "lexical"
        if not compiled.dense_text or get_encoder() is None:
            return "lexical"
        if requested == "hybrid" and compiled.name_share >= NAME_QUERY_SHARE:
            return "lexical"
        return requested

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

    @staticmethod
    def _highlight_terms(compiled) -> dict[str, set[str]]:
        """Terms per field language as the compiled query searches them: the query's own words
        and the other-language names of the entities it names (a Thai query for ไฮฟอง marks 海防
        in a Chinese article). What a snippet of a document in that language marks."""
        terms: dict[str, set[str]] = {lang: set() for lang in FIELD_LANGUAGES}
        if compiled.query is not None:
            for fieldname, text in compiled.query.iter_all_terms():
                kind, _, lang = fieldname.partition("_")   # title_th, body_vi (not the _exact pairs)
                if kind in ("title", "body") and lang in terms:
                    terms[lang].add(text.decode("utf-8") if isinstance(text, bytes) else text)
        return terms

    def _hit(self, f: dict, score: float, terms: dict[str, set[str]]) -> Hit:
        flang = field_language(f.get("lang"))
        snippet = make_snippet(f.get("body") or "", terms[flang], field_analyzer(flang), spans=f.get(BODY_SPANS))
        date = f.get("date")
        return Hit(id=f["id"], title=f.get("title") or "", lang=f.get("lang") or "",
                   date=date.date().isoformat() if date else None,
                   source=f.get("source") or None, url=f.get("url") or None,
                   score=round(float(score), 4), snippet=snippet)

    def _prepare(self, gen, text: str, requested_mode: str):
        """(the compiled query, the mode it runs in, its dense scores being computed or None).
        The model starts before the lexical query is built (analysis, expansion: 0.3-1.4 ms that
        the dense side, hybrid's longer one, would otherwise wait for)."""
        words = self._read(text)
        mode = self._effective_mode(gen, requested_mode, words)
        pending = self._embed_later(gen, words) if mode != "lexical" else None
        return self._compile(text, words), mode, pending

    @staticmethod
    def _read(text: str) -> "_QueryWords":
        """What the mode and the dense side need of a query: cheap, before the lexical query."""
        parsed = parse_user_query(text)
        dense_text = " ".join(" ".join([parsed.text] + parsed.phrases).split())[:MAX_DENSE_QUERY_CHARS]
        entities = query_entities(dense_text)
        return _QueryWords(parsed, dense_text, entities, min(1.0, sum(share for _, share in entities)))

    def _compile(self, text: str, words: "_QueryWords | None" = None) -> "_Compiled":
        words = words or self._read(text)
        parsed = words.parsed
        query_langs = self._query_langs(text)
        query_lang = query_langs[0] if query_langs else None
        query = None
        if not parsed.empty:
            query = build_query(parsed, query_lang, expansion=expansion_query(words.entities, query_lang))
        return _Compiled(parsed, query_langs, query_lang, query, constraint_query(parsed), words.dense_text,
                         words.name_share)

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
        gen = self.generation
        searcher = gen.searcher()
        compiled, mode, pending = self._prepare(gen, text, mode)
        filters = Q.Term("lang", lang) if lang else None
        if mode == "lexical":
            if compiled.query is None:
                return []
            ids = gen.id_of(searcher)
            matches = filtered_matches(searcher, compiled.query, filters, gen.postings).matches
            return [(ids[docnum], score) for score, docnum in matches.top(k)]
        ranked, _ = self._ranking(gen, searcher, compiled, filters, mode, max(k, FUSION_DEPTH), pending)
        return ranked[:k]

    # -- articles and health ---------------------------------------------------
    def article(self, article_id: str) -> dict | None:
        if not isinstance(article_id, str) or not article_id or len(article_id) > 1000:
            return None
        gen = self.generation
        fields = gen.searcher().document(id=article_id)
        if fields is None:
            return None
        date = fields.get("date")
        entities = fields.get("entities") or ""
        return {
            "id": fields["id"], "title": fields.get("title") or "", "body": fields.get("body") or "",
            "lang": fields.get("lang") or "", "date": date.date().isoformat() if date else None,
            "source": fields.get("source") or None, "url": fields.get("url") or None,
            "entities": list(dict.fromkeys(e for e in entities.split(",") if e)),
            "related": self.related(article_id),
        }

    def related(self, article_id: str, per_language: int = RELATED_PER_LANGUAGE) -> list[dict]:
        """This story in other languages: the nearest articles of each other language."""
        gen = self.generation
        vectors = gen.vectors
        if vectors is None:
            return []
        found = vectors.counterparts(article_id, per_language)
        searcher = gen.searcher()
        out = []
        for doc_id, lang, score in found:
            fields = searcher.document(id=doc_id)
            if fields is not None:
                out.append({"id": doc_id, "title": fields.get("title") or "", "lang": lang,
                            "score": round(score, 4)})
        return out

    @staticmethod
    def suggestions(prefix: str) -> list[str]:
        """Entity names completing prefix, in any script (see suggest.py)."""
        from .suggest import suggest

        return suggest(prefix)

    @staticmethod
    def entity_label(entity_id: str, lang: str = "en") -> str:
        from analyzers.lexicon import get_lexicon

        entity = get_lexicon().get(entity_id)
        return entity.label(lang) if entity is not None else entity_id

    def health(self) -> dict:
        gen = self.generation
        return {
            "status": "ok",
            "generation": gen.name,
            "created": gen.manifest.get("created"),
            "documents": gen.manifest.get("documents", 0),
            "langs": gen.manifest.get("langs", {}),
            "dense": self._dense_health(gen),
        }

    @staticmethod
    def _dense_health(gen) -> dict:
        if gen.vectors is None:
            reason = gen.vectors_error or (gen.manifest.get("vectors") or {}).get("reason") \
                or "no vectors in this index"
            return {"available": False, "reason": reason}
        encoder = get_encoder()
        if encoder is None:
            return {"available": False, "reason": unavailable_reason()}
        return {"available": True, "reason": None, "model": gen.vectors.model, "engine": encoder.engine,
                "matmul": encoder.matmul, "scoring": gen.vectors.scoring, "articles": len(gen.vectors), "passages": len(gen.vectors.ids)}


@dataclass
class _QueryWords:
    parsed: object
    dense_text: str                # what the dense model embeds
    entities: list                 # (entity id, share of the query) named in it
    name_share: float              # share of the query that names lexicon entities


@dataclass
class _Compiled:
    parsed: object
    query_langs: list[str]
    query_lang: str | None
    query: Q.Query | None          # lexical, with entity expansion
    constraint: Q.Query | None     # what every result must satisfy ("phrases", -exclusions)
    dense_text: str                # what the dense model embeds
    name_share: float = 0.0        # share of the query that names lexicon entities


__all__ = ["SearchEngine", "SearchError", "SearchRequest"]
