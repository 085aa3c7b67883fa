"""Turn query-string parameters into a validated SearchRequest.

Shared by the JSON API and the HTML page so both refuse the same things with
the same messages. Everything here raises BadParameter (→ 400), never lets a
ValueError or UnicodeError escape as a 500.
"""
import re
from datetime import date
from urllib.parse import parse_qsl

from indexer.results import MAX_PAGE_SIZE, MAX_QUERY_CHARS, MODES, SearchError, SearchRequest

DEFAULT_PAGE_SIZE = 10
MAX_PAGE = 1000                 # deeper paging is a crawler, not a reader
MAX_FILTER_CHARS = 200          # source / entity values
MAX_SUGGEST_CHARS = 200         # /api/suggest's q
MAX_QUERY_STRING_BYTES = 16384  # whole query string; longer → 414
LANG_CODE = re.compile(r"^[a-z]{2,3}$")          # ISO 639-1/3, as stored in the index
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Parameters of /api/search and / (the page); the OpenAPI document is built from this too.
SEARCH_PARAMS = ("q", "lang", "page", "size", "from", "to", "source", "entity", "mode")


class BadParameter(ValueError):
    def __init__(self, message: str, param: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


def check_query_string(raw: bytes) -> None:
    """Refuse over-long query strings and ones that are not UTF-8.

    Werkzeug silently replaces undecodable bytes with U+FFFD; a search for
    '\ufffd\ufffd' is never what the client meant, so say so instead.
    """
    if len(raw) > MAX_QUERY_STRING_BYTES:
        raise BadParameter(f"the query string is {len(raw)} bytes; the limit is {MAX_QUERY_STRING_BYTES}",
                           status=414)
    try:
        text = raw.decode("utf-8")   # browsers percent-encode; curl may send raw UTF-8: both fine
    except UnicodeDecodeError:
        raise BadParameter("the query string is not valid UTF-8") from None
    try:
        parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadParameter("the query string is not valid UTF-8 once percent-decoded") from None


def text_param(args, name: str, limit: int) -> str | None:
    """A text parameter, stripped; None when empty. Over `limit` characters or with control
    characters: BadParameter."""
    raw = args.get(name, "")
    if len(raw) > limit:        # checked before stripping: the limit the OpenAPI document states
        raise BadParameter(f"{name} is {len(raw)} characters; the limit is {limit}", name)
    if CONTROL_CHARS.search(raw):
        raise BadParameter(f"{name} contains control characters", name)
    return raw.strip() or None


def _int(args, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name, "")
    if not raw:
        return default
    if not re.fullmatch(r"-?\d{1,9}", raw):
        raise BadParameter(f"{name} must be a whole number, got {raw[:40]!r}", name)
    value = int(raw)
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}, got {value}", name)
    return value


def _date(args, name: str) -> date | None:
    raw = args.get(name, "")
    if not raw:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise BadParameter(f"{name} must be an ISO date YYYY-MM-DD, got {raw[:40]!r}", name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(f"{name} is not a real date: {raw}", name) from None


def parse_search_args(args, default_size: int = DEFAULT_PAGE_SIZE) -> SearchRequest:
    """args: a MultiDict-like mapping (request.args). Returns a validated request."""
    query = args.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        raise BadParameter(f"q is {len(query)} characters; the limit is {MAX_QUERY_CHARS}", "q")
    if CONTROL_CHARS.search(query):
        raise BadParameter("q contains control characters", "q")
    lang = args.get("lang", "") or None
    if lang is not None and not LANG_CODE.fullmatch(lang):
        raise BadParameter(f"lang must be a 2- or 3-letter ISO 639 code such as th, zh, ar; got {lang[:20]!r}",
                           "lang")
    mode = args.get("mode", "") or SearchRequest.mode
    if mode not in MODES:
        raise BadParameter(f"mode must be one of {', '.join(MODES)}; got {mode[:20]!r}", "mode")
    date_from, date_to = _date(args, "from"), _date(args, "to")
    if date_from and date_to and date_from > date_to:
        raise BadParameter(f"from ({date_from}) is after to ({date_to})", "from")
    request = SearchRequest(
        query=query.strip(),
        lang=lang,
        page=_int(args, "page", 1, 1, MAX_PAGE),
        size=_int(args, "size", default_size, 1, MAX_PAGE_SIZE),
        date_from=date_from,
        date_to=date_to,
        source=text_param(args, "source", MAX_FILTER_CHARS),
        entity=text_param(args, "entity", MAX_FILTER_CHARS),
        mode=mode,
    )
    try:
        return request.validate()
    except SearchError as e:   # the core's own checks, same 400
        raise BadParameter(str(e)) from None


def request_to_args(req: SearchRequest, **overrides) -> dict[str, str]:
    """The query-string form of a request (for links: pages, chips, JSON twin)."""
    args = {
        "q": req.query,
        "lang": req.lang,
        "page": req.page if req.page != 1 else None,
        "size": req.size if req.size != DEFAULT_PAGE_SIZE else None,
        "from": req.date_from.isoformat() if req.date_from else None,
        "to": req.date_to.isoformat() if req.date_to else None,
        "source": req.source,
        "entity": req.entity,
        "mode": req.mode if req.mode != SearchRequest.mode else None,
    }
    args.update(overrides)
    return {k: str(v) for k, v in args.items() if v not in (None, "")}
