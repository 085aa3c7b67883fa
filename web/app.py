"""Flask app factory: configuration, the one SearchEngine per process, security
headers and error handling shared by the JSON API and the HTML pages."""
import logging
import os
import threading
from pathlib import Path

from flask import Flask, current_app, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from .params import BadParameter, check_query_string

REPO_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("polysearch.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SafeJSONProvider(DefaultJSONProvider):
    """UTF-8 JSON with <, > and & as \\u escapes (they only occur inside strings), so a
    response is inert even if some client sniffs it as HTML or inlines it in a page."""
    ensure_ascii = False     # Thai/Chinese/Arabic stay readable
    sort_keys = False

    def dumps(self, obj, **kwargs):
        text = super().dumps(obj, **kwargs)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class IndexUnavailable(Exception):
    """No index to search yet (→ 503, with the detail only in the server log)."""


def default_config() -> dict:
    return {
        "INDEX_DIR": os.environ.get("POLYSEARCH_INDEX") or str(REPO_ROOT / "index"),
        "DEBUG": os.environ.get("POLYSEARCH_ENV") == "development",
        "MAX_CONTENT_LENGTH": 64 * 1024,   # the API takes no bodies; refuse big ones early
        "JSON_PAGE_SIZE": 10,
    }


def get_engine():
    """The process's SearchEngine, opened on first use.

    Not cached while the index is missing, so a server started before the
    first `polysearch index` starts working once it exists.
    """
    app = current_app._get_current_object()
    engine = app.extensions.get("polysearch.engine")
    if engine is not None:
        return engine
    with app.extensions["polysearch.engine_lock"]:
        engine = app.extensions.get("polysearch.engine")
        if engine is None:
            from indexer.engine import SearchEngine   # import here: app creation must not need an index
            try:
                engine = SearchEngine(app.config["INDEX_DIR"])
            except FileNotFoundError as e:
                log.warning("no index: %s", e)
                raise IndexUnavailable(str(e)) from None
            app.extensions["polysearch.engine"] = engine
    return engine


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, param: str | None = None):
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if param:
            body["error"]["param"] = param
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.json_provider_class = SafeJSONProvider
    app.json = SafeJSONProvider(app)
    app.config.update(default_config())
    app.config.update(config or {})
    app.debug = bool(app.config.get("DEBUG"))
    app.jinja_env.autoescape = True    # also for any non-.html template
    app.extensions["polysearch.engine_lock"] = threading.Lock()
    if config and config.get("ENGINE") is not None:   # an already-open engine (e.g. the CLI's)
        app.extensions["polysearch.engine"] = config["ENGINE"]

    from .api import api
    from .pages import pages
    app.register_blueprint(api)
    app.register_blueprint(pages)

    @app.before_request
    def refuse_bad_query_strings():
        try:
            check_query_string(request.query_string)
        except BadParameter as e:
            return error_response(e.status, "uri_too_long" if e.status == 414 else "bad_parameter", e.message)

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(BadParameter)
    def bad_parameter(e: BadParameter):
        return error_response(e.status, "bad_parameter", e.message, e.param)

    @app.errorhandler(IndexUnavailable)
    def index_unavailable(e):
        return error_response(503, "index_unavailable",
                              "The search index is not available yet; build it with `polysearch index`.")

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        code = (e.name or "error").lower().replace(" ", "_")
        response = error_response(e.code or 500, code, e.description or e.name)
        if e.code == 405 and e.valid_methods:   # keep the Allow header
            body, status = response
            return body, status, {"Allow": ", ".join(e.valid_methods)}
        return response

    @app.errorhandler(Exception)
    def internal_error(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")

    return app
