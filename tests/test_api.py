"""The JSON API over a real index of corpus/ (no mocks): happy paths, the
OpenAPI contract, and every bad parameter answered with a JSON 4xx."""
import json
import shutil
import urllib.request
from pathlib import Path

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from web.app import SECURITY_HEADERS, create_app
from web.openapi import openapi_document

THAI = "การต่างประเทศ"          # "foreign affairs": in all three Thai seed articles
CHINESE = "民间外交"             # "people's diplomacy": the Chinese seed article
ARABIC = "الدبلوماسية"           # the Arabic seed article
REPO_CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def assert_matches_spec(path_template: str, response):
    """The body of a real response validates against what the spec says for that path and status."""
    spec = openapi_document()
    declared = spec["paths"][path_template]["get"]["responses"][str(response.status_code)]
    if "$ref" in declared:
        declared = spec["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
    schema = declared["content"]["application/json"]["schema"]
    assert response.is_json, response.data[:200]
    OAS31Validator({**schema, "components": spec["components"]}).validate(response.get_json())


def assert_json_error(response, status: int):
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return error


# --- happy paths --------------------------------------------------------------------------

def test_thai_search_finds_thai_articles_with_marked_snippets(web_client):
    r = web_client.get("/api/search", query_string={"q": THAI})
    assert r.status_code == 200
    body = r.get_json()
    assert body["query"] == THAI and body["total"] >= 3
    assert {hit["lang"] for hit in body["results"]} >= {"th"}
    assert any("<mark>" in hit["snippet"] for hit in body["results"])
    assert body["facets"]["lang"]["th"] == 3
    assert body["page"] == 1 and body["size"] == 10 and body["mode"] in ("lexical", "dense", "hybrid")
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert_matches_spec("/api/search", r)


@pytest.mark.parametrize("query,lang", [(CHINESE, "zh"), (ARABIC, "ar")])
def test_other_scripts_find_their_articles(web_client, query, lang):
    body = web_client.get("/api/search", query_string={"q": query}).get_json()
    assert body["total"] >= 1
    assert body["results"][0]["lang"] == lang


def test_lang_filter_keeps_other_languages_in_the_facet(web_client, multilingual_query):
    everything = web_client.get("/api/search", query_string={"q": multilingual_query}).get_json()
    first, other = list(everything["facets"]["lang"])[:2]
    only = web_client.get("/api/search", query_string={"q": multilingual_query, "lang": first}).get_json()
    assert only["results"] and {h["lang"] for h in only["results"]} == {first}
    assert only["total"] < everything["total"]
    assert only["facets"]["lang"][other] == everything["facets"]["lang"][other]


def test_empty_query_returns_no_results_but_whole_index_facets(web_client):
    r = web_client.get("/api/search?q=")
    assert r.status_code == 200
    body = r.get_json()
    assert body["results"] == [] and body["total"] == 0
    assert body["facets"]["lang"] == {"th": 3, "zh": 1, "ar": 1}
    assert_matches_spec("/api/search", r)


def test_paging_walks_through_distinct_results(web_client):
    pages = [web_client.get("/api/search", query_string={"q": THAI, "size": 1, "page": n}).get_json()
             for n in (1, 2, 3)]
    ids = [p["results"][0]["id"] for p in pages]
    assert len(set(ids)) == 3
    assert all(p["size"] == 1 for p in pages)
    beyond = web_client.get("/api/search", query_string={"q": THAI, "page": 50}).get_json()
    assert beyond["results"] == [] and beyond["total"] >= 3


def test_date_range_filter(web_client):
    body = web_client.get("/api/search", query_string={"q": THAI}).get_json()
    dated = [h for h in body["results"] if h["date"]]
    if not dated:
        pytest.skip("no dated Thai article in the seed corpus")
    day = dated[0]["date"]
    on_day = web_client.get("/api/search", query_string={"q": THAI, "from": day, "to": day}).get_json()
    assert on_day["results"] and all(h["date"] == day for h in on_day["results"])
    before = web_client.get("/api/search", query_string={"q": THAI, "to": "1900-01-01"}).get_json()
    assert before["results"] == []


def test_article_by_id_and_json_schema(web_client):
    hit = web_client.get("/api/search", query_string={"q": CHINESE}).get_json()["results"][0]
    r = web_client.get(f"/api/articles/{hit['id']}")
    assert r.status_code == 200
    article = r.get_json()
    assert article["id"] == hit["id"] and article["lang"] == "zh" and CHINESE in article["body"]
    assert_matches_spec("/api/articles/{id}", r)


@pytest.mark.parametrize("article_id", [
    "no-such-article", "sub/a", "../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd",
    "x" * 600, "corpus/000_c67f822c665e0ab4.txt",
])
def test_unknown_or_hostile_article_ids_are_json_404(web_client, article_id):
    r = web_client.get(f"/api/articles/{article_id}")
    error = assert_json_error(r, 404)
    assert error["code"] == "not_found"
    assert "root:" not in r.get_data(as_text=True)
    assert_matches_spec("/api/articles/{id}", r)


def test_health(web_client):
    r = web_client.get("/api/health")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["langs"]["th"] == 3
    assert_matches_spec("/api/health", r)


def test_suggest_endpoint(web_client):
    r = web_client.get("/api/suggest", query_string={"q": THAI})
    assert r.status_code == 200 and isinstance(r.get_json()["suggestions"], list)
    assert_matches_spec("/api/suggest", r)


# --- the OpenAPI document ---------------------------------------------------------------------

def test_openapi_document_is_valid_and_served(web_client):
    r = web_client.get("/api/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    validate_spec(spec)
    assert set(spec["paths"]) == {"/api/search", "/api/articles/{id}", "/api/health", "/api/suggest",
                                  "/api/openapi.json"}
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert params["size"]["minimum"] == 1 and params["size"]["maximum"] == 100
    assert params["page"]["minimum"] == 1 and "maximum" in params["page"]
    assert "<mark>" in spec["components"]["schemas"]["Hit"]["properties"]["snippet"]["description"]
    assert_matches_spec("/api/openapi.json", r)


def test_every_api_route_is_in_the_spec(web_app):
    spec_paths = {p.replace("{id}", "<path:article_id>") for p in openapi_document()["paths"]}
    routes = {rule.rule for rule in web_app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert routes == spec_paths


# --- bad parameters: always a JSON 4xx, never a 500 ---------------------------------------------

BAD_REQUESTS = [
    ("size=0", 400, "size"),
    ("size=10000", 400, "size"),
    ("size=-5", 400, "size"),
    ("size=1.5", 400, "size"),
    ("page=-1", 400, "page"),
    ("page=0", 400, "page"),
    ("page=abc", 400, "page"),
    ("page=99999999999999999999", 400, "page"),
    ("q=" + "a" * 1001, 400, "q"),
    ("q=" + "ก" * 100_000, 414, None),                    # 100 KB+ of query string
    ("q=" + "a" * 100_000, 414, None),
    ("q=%00abc", 400, "q"),
    ("lang=thai", 400, "lang"),
    ("lang=t", 400, "lang"),
    ("lang=%3Cscript%3E", 400, "lang"),
    ("lang=th-TH", 400, "lang"),
    ("from=2024-13-01", 400, "from"),
    ("from=2024-02-30", 400, "from"),
    ("from=yesterday", 400, "from"),
    ("to=20240101", 400, "to"),
    ("from=2024-05-01&to=2024-01-01", 400, "from"),
    ("q=%ff%fe", 400, None),                              # invalid UTF-8 once percent-decoded
    ("q=abc&lang=%c3%28", 400, None),
    ("mode=magic", 400, "mode"),
    ("source=" + "s" * 500, 400, "source"),
    ("entity=%01", 400, "entity"),
]


@pytest.mark.parametrize("query_string,status,param", BAD_REQUESTS,
                         ids=[qs[:40] for qs, _, _ in BAD_REQUESTS])
def test_bad_parameters_are_json_4xx(web_client, query_string, status, param):
    r = web_client.get(f"/api/search?q=x&{query_string}" if not query_string.startswith("q=")
                       else f"/api/search?{query_string}")
    error = assert_json_error(r, status)
    if param:
        assert error.get("param") == param, error
    assert_matches_spec("/api/search", r)


def test_raw_non_ascii_bytes_in_query_string(web_client):
    # a client that sends raw bytes instead of percent-escapes (WSGI hands them over as latin-1)
    r = web_client.get("/api/search", environ_overrides={"QUERY_STRING": "q=\xff\xfe"})
    assert_json_error(r, 400)


def test_unknown_api_path_and_wrong_method_are_json(web_client):
    assert_json_error(web_client.get("/api/nope"), 404)
    r = web_client.post("/api/search", data={"q": "x"})
    assert_json_error(r, 405)
    assert "GET" in r.headers["Allow"]
    assert_matches_spec("/api/search", r)


def test_oversized_body_is_refused(web_app):
    app = create_app({"INDEX_DIR": web_app.config["INDEX_DIR"], "MAX_CONTENT_LENGTH": 1024})

    @app.post("/api/echo-length")   # a body-reading route, only in this test app
    def echo_length():
        from flask import request
        return {"length": len(request.get_data())}

    r = app.test_client().post("/api/echo-length", data=b"x" * 4096)
    assert_json_error(r, 413)


def test_unexpected_errors_are_generic_json_500(web_app, caplog):
    app = create_app({"INDEX_DIR": web_app.config["INDEX_DIR"]})

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    r = app.test_client().get("/api/boom")
    error = assert_json_error(r, 500)
    assert "secret" not in r.get_data(as_text=True)
    assert error["code"] == "internal_error"
    assert "secret internal detail" in caplog.text      # but the server log has it


def test_missing_index_is_json_503(tmp_path):
    app = create_app({"INDEX_DIR": str(tmp_path / "nothing-here")})
    r = app.test_client().get("/api/search?q=x")
    error = assert_json_error(r, 503)
    assert str(tmp_path) not in error["message"]
    assert_matches_spec("/api/search", r)


def test_security_headers_on_api_responses(web_client):
    for path in ("/api/search?q=x", "/api/health", "/api/nope", "/api/search?size=0"):
        r = web_client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (path, name)


def test_json_is_utf8_not_escaped(web_client):
    r = web_client.get("/api/search", query_string={"q": THAI})
    assert THAI in r.get_data(as_text=True)
    json.loads(r.get_data(as_text=True))


# --- a reindex is picked up by the running app ------------------------------------------------

def test_new_generation_is_served_without_restart(tmp_path):
    from indexer.build import build_index

    corpus = tmp_path / "corpus"
    shutil.copytree(REPO_CORPUS, corpus)
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir)
    client = create_app({"INDEX_DIR": str(index_dir)}).test_client()
    word = "Zanzibarquokka"
    assert client.get("/api/search", query_string={"q": word, "mode": "lexical"}).get_json()["total"] == 0
    assert client.get("/api/articles/sub/a").status_code == 404

    (corpus / "sub").mkdir()
    (corpus / "sub" / "a.txt").write_text(
        f"{word} festival opens in Hanoi\n\nThe {word} cultural festival opened on Monday in Hanoi, "
        f"bringing together artists from many countries for a week of music and dance.\n", encoding="utf-8")
    build_index(corpus, index_dir)

    body = client.get("/api/search", query_string={"q": word, "mode": "lexical"}).get_json()
    assert body["total"] == 1
    hit = body["results"][0]
    assert hit["id"] == "sub/a" and "<mark>" in hit["snippet"]
    article = client.get("/api/articles/sub/a")
    assert article.status_code == 200 and word in article.get_json()["title"]
    assert client.get("/api/health").get_json()["documents"] == 6


def test_production_server_workers_pick_up_a_reindex(tmp_path, web_server):
    """Every server worker process serves the new generation after a reindex, without a restart."""
    from indexer.build import build_index

    corpus = tmp_path / "corpus"
    shutil.copytree(REPO_CORPUS, corpus)
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir)
    with web_server(index_dir, workers=2, threads=1) as url:
        def documents():
            with urllib.request.urlopen(f"{url}/api/health", timeout=10) as r:
                return json.load(r)["documents"]

        assert {documents() for _ in range(6)} == {5}
        (corpus / "extra.txt").write_text("Quokkafest in Da Nang\n\nThe Quokkafest began in Da Nang today "
                                          "with music and food from many countries.\n", encoding="utf-8")
        build_index(corpus, index_dir)
        assert {documents() for _ in range(12)} == {6}      # 12 requests: both workers answer
        with urllib.request.urlopen(f"{url}/api/search?q=Quokkafest", timeout=10) as r:
            assert json.load(r)["results"][0]["id"] == "extra"


def test_config_from_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("POLYSEARCH_ENV", raising=False)
    monkeypatch.delenv("POLYSEARCH_INDEX", raising=False)
    app = create_app()
    assert app.debug is False
    assert app.config["INDEX_DIR"] == str(REPO_CORPUS.parent / "index")
    monkeypatch.setenv("POLYSEARCH_ENV", "development")
    monkeypatch.setenv("POLYSEARCH_INDEX", str(tmp_path))
    app = create_app()
    assert app.debug is True and app.config["INDEX_DIR"] == str(tmp_path)
    assert create_app({"INDEX_DIR": "/elsewhere"}).config["INDEX_DIR"] == "/elsewhere"


def test_suggest_completes_entity_names_in_any_script(web_client):
    for prefix, expected in (("hai p", "Hải Phòng"), ("ไฮฟ", "ไฮฟอง"), ("海防", "海防"), ("ha tin", "Hà Tĩnh")):
        r = web_client.get("/api/suggest", query_string={"q": prefix})
        assert expected in r.get_json()["suggestions"], prefix
    assert web_client.get("/api/suggest", query_string={"q": "zzqx"}).get_json()["suggestions"] == []


def test_suggest_refuses_what_its_spec_refuses(web_client):
    """The length limit is of q as sent (trailing spaces count), and control characters are refused,
    as for the search's parameters (a fuzzing run found 200 chars + a space accepted)."""
    assert web_client.get("/api/suggest", query_string={"q": "0" * 200}).status_code == 200
    for q in ("0" * 200 + " ", "ha\x01i"):
        r = web_client.get("/api/suggest", query_string={"q": q})
        assert r.status_code == 400 and r.get_json()["error"]["param"] == "q"
