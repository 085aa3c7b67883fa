"""Server-rendered HTML: the search page and the article page.

Each page uses the same code path as its JSON twin (api.run_search /
api.lookup_article) and links to it with rel=alternate.
"""
import re
import unicodedata
from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, request, url_for

from .api import lookup_article, run_search
from .app import get_engine
from .params import BadParameter, parse_search_args, request_to_args

pages = Blueprint("pages", __name__)
PAGE_SIZE = 10
RTL_LANGS = {"ar", "fa", "he", "ur", "ps", "yi"}
LANG_NAMES = {
    "th": "ไทย · Thai", "zh": "中文 · Chinese", "ar": "العربية · Arabic", "vi": "Tiếng Việt · Vietnamese",
    "en": "English", "ja": "日本語 · Japanese", "ko": "한국어 · Korean", "lo": "ລາວ · Lao",
    "km": "ខ្មែរ · Khmer", "my": "မြန်မာ · Burmese", "id": "Bahasa Indonesia", "ms": "Bahasa Melayu",
    "fr": "Français", "es": "Español", "de": "Deutsch", "ru": "Русский",
}
THAI_TONE_MARKS = re.compile("[\u0e48-\u0e4b]")


@pages.app_template_filter("http_url")
def http_url(url) -> str | None:
    """Corpus URLs become links only when they are plain http(s) (no javascript:, data:, ...)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


@pages.app_template_global()
def text_dir(lang) -> str:
    return "rtl" if lang in RTL_LANGS else "auto"


@pages.app_template_global()
def lang_name(code) -> str:
    return LANG_NAMES.get(code, code or "unknown")


def without_tone_marks(query: str) -> str:
    """Vietnamese/Latin accents and Thai tone marks removed: a 'did you mean' for over-specific queries."""
    decomposed = unicodedata.normalize("NFD", query)
    stripped = "".join(c for c in decomposed if not ("\u0300" <= c <= "\u036f"))
    stripped = unicodedata.normalize("NFC", stripped.replace("đ", "d").replace("Đ", "D"))
    return THAI_TONE_MARKS.sub("", stripped)


def no_result_suggestions(search_request) -> list[dict]:
    """Links offered when nothing matched: loosen filters, drop tone marks, the engine's own ideas."""
    out = []
    if search_request.lang:
        out.append({"text": "Search all languages", "args": request_to_args(search_request, lang=None, page=None)})
    if any([search_request.source, search_request.entity, search_request.date_from, search_request.date_to]):
        out.append({"text": "Remove the source, entity and date filters",
                    "args": request_to_args(search_request, source=None, entity=None, page=None,
                                            **{"from": None, "to": None})})
    plain = without_tone_marks(search_request.query)
    if plain != search_request.query:
        out.append({"text": f"Search without tone marks: {plain}",
                    "args": request_to_args(search_request, q=plain, page=None)})
    suggest = getattr(get_engine(), "suggestions", None)
    if suggest is not None:
        try:
            for s in list(suggest(search_request.query))[:5]:
                if s and s != search_request.query:
                    out.append({"text": s, "args": request_to_args(search_request, q=s, page=None)})
        except Exception:   # suggestions are a nicety: never fail the page for them
            pass
    return out


def entity_label(entity_id: str) -> str:
    """The entity's English name (the id if the lexicon does not know it)."""
    return get_engine().entity_label(entity_id)


def facet_links(search_request, facets: dict) -> dict[str, list[dict]]:
    """Each facet value as a chip: label, count, link that applies (or removes) it, and whether active."""
    groups: dict[str, list[dict]] = {}
    for name in ("lang", "source", "year", "entity"):
        counts = facets.get(name) or {}
        chips = []
        for value, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12]:
            if name == "year":
                active = bool(search_request.date_from and search_request.date_from.isoformat() == f"{value}-01-01"
                              and search_request.date_to and search_request.date_to.isoformat() == f"{value}-12-31")
                change = ({"from": None, "to": None} if active
                          else {"from": f"{value}-01-01", "to": f"{value}-12-31"})
            else:
                active = getattr(search_request, name) == value
                change = {name: None if active else value}
            label = lang_name(value) if name == "lang" else entity_label(value) if name == "entity" else value
            chips.append({"value": value, "label": label,
                          "count": count, "active": active,
                          "args": request_to_args(search_request, page=None, **change)})
        if chips:
            groups[name] = chips
    return groups


def page_numbers(page: int, last: int, window: int = 2) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 20 (None marks a gap)."""
    keep = {1, last, *range(page - window, page + window + 1)}
    out, prev = [], 0
    for n in sorted(k for k in keep if 1 <= k <= last):
        if n - prev > 1:
            out.append(None)
        out.append(n)
        prev = n
    return out


@pages.get("/")
def search_page():
    try:
        search_request = parse_search_args(request.args, PAGE_SIZE)
    except BadParameter as e:
        return render_template("search.html", error=e.message, q=request.args.get("q", "")[:1000],
                               stats=None, result=None), 400
    result = run_search(search_request)
    context = {"q": search_request.query, "req": search_request, "result": result, "error": None,
               "json_url": url_for("api.search", **request_to_args(search_request)),
               "facets": facet_links(search_request, result["facets"])}
    if not search_request.query:
        context["stats"] = get_engine().health()
        return render_template("search.html", **context)
    last = max(1, -(-result["total"] // search_request.size))
    context.update(
        stats=None,
        pages=page_numbers(search_request.page, last) if last > 1 else [],
        last_page=last,
        page_args=lambda n: request_to_args(search_request, page=n if n > 1 else None),
        suggestions=no_result_suggestions(search_request) if not result["results"] else [],
    )
    return render_template("search.html", **context)


@pages.get("/articles/<path:article_id>")
def article_page(article_id: str):
    article = lookup_article(article_id)
    if article is None:
        abort(404, description="There is no article with that id.")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\n", article.get("body") or "") if p.strip()]
    entities = [{"id": e, "label": entity_label(e)} for e in article.get("entities") or []]
    return render_template("article.html", article=article, paragraphs=paragraphs, entities=entities,
                           json_url=url_for("api.article", article_id=article["id"]))
