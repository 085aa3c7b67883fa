"""JSON API: a thin translation between query strings and the SearchEngine."""
from flask import Blueprint, abort, current_app, jsonify, request

from .app import get_engine
from .params import CONTROL_CHARS, MAX_SUGGEST_CHARS, parse_search_args, text_param

api = Blueprint("api", __name__, url_prefix="/api")
MAX_ID_CHARS = 512


def hit_json(hit) -> dict:
    return {
        "id": hit.id, "title": hit.title, "lang": hit.lang, "date": hit.date,
        "source": hit.source, "url": hit.url, "score": round(float(hit.score), 6),
        "snippet": hit.snippet,
    }


# Facet names as the filter parameters that apply them (the engine says "entities").
FACET_PARAM = {"entities": "entity"}


def run_search(search_request) -> dict:
    """The JSON body for a validated request. An empty query matches nothing but
    still gets the facets of the whole (filtered) index, for the landing page."""
    response = get_engine().search(search_request)
    hits = response.results
    if (search_request.page - 1) * search_request.size >= response.total:
        hits = []   # past the end: Whoosh's search_page would repeat the last page instead
    return {
        "query": response.query,
        "total": int(response.total),
        "took_ms": round(float(response.took_ms), 3),
        "page": response.page,
        "size": response.size,
        "mode": response.mode,
        "query_langs": list(response.query_langs),
        "results": [hit_json(h) for h in hits],
        "facets": {FACET_PARAM.get(name, name): {str(k): int(v) for k, v in counts.items()}
                   for name, counts in (response.facets or {}).items()},
    }


def lookup_article(article_id: str) -> dict | None:
    """Ids are only ever looked up in the index, never used as file paths."""
    if len(article_id) > MAX_ID_CHARS or CONTROL_CHARS.search(article_id):
        return None
    return get_engine().article(article_id)


@api.get("/search")
def search():
    search_request = parse_search_args(request.args, current_app.config["JSON_PAGE_SIZE"])
    return jsonify(run_search(search_request))


@api.get("/articles/<path:article_id>")
def article(article_id: str):
    found = lookup_article(article_id)
    if found is None:
        abort(404, description=f"no article with id {article_id[:100]!r}")
    return jsonify(found)


@api.get("/health")
def health():
    return jsonify(get_engine().health())


@api.get("/suggest")
def suggest():
    # The same rules as the search's text parameters: the length is of the value as sent.
    query = text_param(request.args, "q", MAX_SUGGEST_CHARS) or ""
    suggestions = getattr(get_engine(), "suggestions", None)
    return jsonify({"query": query, "suggestions": list(suggestions(query)) if (suggestions and query) else []})


@api.get("/openapi.json")
def openapi():
    from .openapi import openapi_document
    return jsonify(openapi_document())
