"""Web security over an index of hostile articles: corpus text, metadata and queries carrying
markup and javascript: URLs come out escaped everywhere (pages, snippets, facets, JSON);
responses carry a CSP without inline script; article ids never reach the file system; no
debug pages or stack traces; request size limits hold on the production server.
"""
import http.client
import json
import os
import urllib.parse
from pathlib import Path

import pytest

from indexer.build import build_index
from web.app import create_app
from file_access import file_accesses
from test_page import Tags  # every start tag as (name, attrs)

PAYLOADS = ['<script>alert("x1")</script>', '"><img src=x onerror=alert("x2")>',
            "javascript:alert('x3')", "'><svg/onload=alert('x4')>", "</mark><script>alert('x5')</script>"]
HOSTILE = [
    {"id": "h1", "title": f"Hostile {PAYLOADS[0]} title", "lang": "en",
     "body": f"xssbodyzq {PAYLOADS[0]} and {PAYLOADS[1]} then {PAYLOADS[4]} and more text " * 3,
     "url": "javascript:alert('x3')", "source": PAYLOADS[1]},
    {"id": "h2", "title": f"Second {PAYLOADS[1]}", "lang": "en",
     "body": f"xssbodyzq {PAYLOADS[3]} visit {PAYLOADS[2]} today", "url": " JaVaScRiPt:alert(1)",
     "source": PAYLOADS[0]},
    {"id": "h3", "title": "Data url", "lang": "en", "body": "xssbodyzq data url article",
     "url": "data:text/html,<script>alert('x6')</script>", "source": "plain"},
    {"id": "<script>alert('x7')</script>", "title": "Hostile id", "lang": "en",
     "body": "xssbodyzq an article whose id is markup"},
]
MARKERS = ("alert(", "onerror", "onload", "javascript:", "<script", "<img", "<svg")


def assert_inert_html(html: str) -> None:
    """No element, attribute or URL that a payload could have created."""
    tags = Tags(html).tags
    assert not [t for t, _ in tags if t in ("script", "img", "svg", "iframe", "object", "embed")], html[:500]
    for tag, attrs in tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)
    assert "<script" not in html.lower() and "<img" not in html.lower()


def assert_inert_json(raw: str) -> None:
    assert "<" not in raw and ">" not in raw        # SafeJSONProvider: \u003c, \u003e
    json.loads(raw)


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "h.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HOSTILE), encoding="utf-8")
    (corpus / "page.txt").write_text(f"Text file {PAYLOADS[1]}\n\nxssbodyzq {PAYLOADS[0]} {PAYLOADS[2]}\n",
                                     encoding="utf-8")
    summary = build_index(corpus, root / "index")
    assert summary.documents == 5, summary.errors
    return create_app({"INDEX_DIR": str(root / "index")})


@pytest.fixture
def client(hostile_app):
    return hostile_app.test_client()


def test_corpus_markup_is_escaped_on_the_results_page(client):
    r = client.get("/?q=xssbodyzq&size=10")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'href="/articles/h1"' in html and 'href="/articles/h2"' in html
    assert "Hostile &lt;script&gt;" in html                   # shown, as text
    assert_inert_html(html)
    for source in (PAYLOADS[0], PAYLOADS[1]):                  # source facet chips and filter links
        r = client.get("/", query_string={"q": "xssbodyzq", "source": source})
        assert r.status_code == 200
        assert_inert_html(r.get_data(as_text=True))


def test_snippets_are_escaped_html_with_only_mark(client):
    body = client.get("/api/search?q=xssbodyzq&size=10")
    raw = body.get_data(as_text=True)
    assert_inert_json(raw)
    hits = json.loads(raw)["results"]
    assert {h["id"] for h in hits} >= {"h1", "h2", "h3", "page"}
    for hit in hits:
        tags = Tags(hit["snippet"]).tags
        assert {t for t, _ in tags} <= {"mark"} and all(not a for _, a in tags), hit["snippet"]
    h1 = next(h for h in hits if h["id"] == "h1")
    assert "&lt;script&gt;" in h1["snippet"] and "&lt;/mark&gt;" in h1["snippet"]
    assert h1["title"] == HOSTILE[0]["title"]                  # JSON keeps plain text, unescaped


@pytest.mark.parametrize("article_id", ["h1", "h2", "h3", "page", "<script>alert('x7')</script>"])
def test_article_page_and_json_are_inert(client, article_id):
    quoted = urllib.parse.quote(article_id, safe="")
    page = client.get(f"/articles/{quoted}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert_inert_html(html)
    assert 'class="original"' not in html                      # no link for javascript:/data: URLs
    api = client.get(f"/api/articles/{quoted}")
    assert api.status_code == 200
    assert_inert_json(api.get_data(as_text=True))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_queries_are_escaped_everywhere(client, payload):
    for path in ("/", "/api/search", "/api/suggest", "/articles/" + urllib.parse.quote(payload, safe=""),
                 "/api/articles/" + urllib.parse.quote(payload, safe="")):
        r = client.get(path, query_string={"q": payload})
        raw = r.get_data(as_text=True)
        assert r.status_code in (200, 404), (path, r.status_code)
        if r.mimetype == "application/json":
            assert_inert_json(raw)
        else:
            assert_inert_html(raw)


def test_csp_forbids_inline_script_everywhere(client):
    for path in ("/", "/?q=xssbodyzq", "/articles/h1", "/api/search?q=x", "/nope", "/static/style.css"):
        csp = client.get(path).headers["Content-Security-Policy"]
        directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
        assert directives["script-src"] == "'self'" and "unsafe" not in csp
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    static = Path(__file__).resolve().parent.parent / "web" / "templates"
    for template in static.glob("*.html"):
        text = template.read_text(encoding="utf-8").lower()
        assert "<script" not in text and " on" + "click=" not in text and "javascript:" not in text, template


# --- article ids never touch the file system --------------------------------------------------

TRAVERSALS = ["../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
              "%252e%252e%252fetc%252fpasswd", "/etc/passwd", "%2Fetc%2Fpasswd", "....//....//etc/passwd",
              "..\\..\\..\\etc\\passwd", "h1%00.txt", "%00", "h1/../h1", "C:%5Cwindows%5Cwin.ini",
              "file:///etc/passwd", "~root/.ssh/id_rsa"]


@pytest.mark.parametrize("article_id", TRAVERSALS)
def test_article_ids_cannot_traverse_paths(client, hostile_app, article_id):
    client.get("/api/articles/h1")                           # searcher open, before we watch
    with file_accesses() as accessed:
        for prefix in ("/api/articles/", "/articles/"):
            r = client.get(prefix + article_id)
            if r.status_code == 308:                    # '//' merged by Werkzeug: same site, same prefix
                location = urllib.parse.urlsplit(r.headers["Location"])
                assert location.netloc == "localhost" and location.path.startswith(prefix), location
                r = client.get(location.path)
            assert r.status_code in (400, 404), (prefix, article_id, r.status_code)
            text = r.get_data(as_text=True)
            assert "root:" not in text and "[fonts]" not in text and "Traceback" not in text
    index_dir = os.path.realpath(hostile_app.config["INDEX_DIR"])
    templates = os.path.realpath(Path(__file__).resolve().parent.parent / "web" / "templates")
    opened = [p for event, p in accessed if event == "open"]
    strays = [p for p in opened if not os.path.realpath(p).startswith((index_dir, templates))]
    assert strays == [], strays


# --- no debug pages, no stack traces ----------------------------------------------------------

def test_no_debugger_and_generic_html_500(hostile_app, monkeypatch, caplog):
    monkeypatch.setenv("FLASK_DEBUG", "1")                  # Flask's own switch must not turn debug on
    monkeypatch.delenv("POLYSEARCH_ENV", raising=False)
    app = create_app({"INDEX_DIR": hostile_app.config["INDEX_DIR"]})
    assert app.debug is False and app.config["PROPAGATE_EXCEPTIONS"] in (None, False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail /etc/shadow")

    client = app.test_client()
    r = client.get("/boom")
    html = r.get_data(as_text=True)
    assert r.status_code == 500 and r.mimetype == "text/html"
    assert "secret detail" not in html and "Traceback" not in html and "RuntimeError" not in html
    for path in ("/console", "/__debug__", "/debug", "/_debug_toolbar", "/?__debugger__=yes&cmd=resource&f=style.css"):
        r = client.get(path)
        assert b"Werkzeug" not in r.data and b"debugger" not in r.data.lower() and b"Traceback" not in r.data


# --- request limits on the production server ----------------------------------------------------

def raw_request(url: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_request_limits_on_the_production_server(seed_server):
    cases = {
        # granian's own limits (the app never sees these)
        "a 100 KB request line": ("GET", "/api/search?q=" + "a" * 100_000, None, None, {414}),
        "101 header fields": ("GET", "/api/health", {f"X-H{i}": "v" for i in range(101)}, None, {431}),
        "a 1 MB header": ("GET", "/api/health", {"X-Big": "v" * 1_000_000}, None, {431}),
        # the app's: a query string over 16 KB, a q over 1,000 characters
        "a 20 KB query string": ("GET", "/api/search?q=" + "a" * 20_000, None, None, {414}),
        "a 9 KB q": ("GET", "/api/search?q=" + "a" * 9000, None, None, {400}),
        "1 MB body on the API": ("POST", "/api/search?q=x", None, b"x" * (1 << 20), {405, 413}),
        "raw ../ traversal": ("GET", "/api/articles/../../../etc/passwd", None, None, {400, 404}),
        "static traversal": ("GET", "/static/../../../../etc/passwd", None, None, {400, 404}),
        "encoded static traversal": ("GET", "/static/%2e%2e/%2e%2e/web/app.py", None, None, {400, 404}),
        "NUL in the path": ("GET", "/api/articles/h1%00", None, None, {400, 404}),
    }
    for name, (method, path, headers, body, allowed) in cases.items():
        status, data = raw_request(seed_server, method, path, headers, body)
        assert status in allowed, (name, status, data[:200])
        assert b"Traceback" not in data and b"root:" not in data and b"import " not in data, name
    status, _ = raw_request(seed_server, "GET", "/api/health")
    assert status == 200                                     # still serving
