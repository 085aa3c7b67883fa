"""Reindexing: incremental updates by content hash, atomic generations, failure reporting."""
import json
import shutil
from pathlib import Path

import pytest

from indexer import store
from indexer.build import build_index
from indexer.engine import SearchEngine
from indexer.results import SearchRequest

REPO = Path(__file__).resolve().parent.parent
SEEDS = sorted((REPO / "corpus").glob("*.txt"))


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    for p in SEEDS:
        shutil.copy(p, root / p.name)
    return root


def ids(engine, query, **kw):
    return [h.id for h in engine.search(SearchRequest(query, size=50, **kw)).results]


def test_full_then_incremental(corpus, tmp_path):
    index = tmp_path / "index"
    first = build_index(corpus, index)
    assert (first.added, first.updated, first.deleted, first.failed) == (5, 0, 0, 0)
    assert first.documents == 5 and first.langs == {"ar": 1, "th": 3, "zh": 1}

    again = build_index(corpus, index)
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 5)
    assert again.generation == first.generation  # nothing changed: no new generation

    # change one, remove one, add one
    (corpus / "001_3a83ca2a18d3b337.txt").write_text("Hội nghị Đồng Nai\n\nNội dung mới về hợp tác quốc tế của tỉnh Đồng Nai.", encoding="utf-8")
    (corpus / "003_3b6ac94297977e52.txt").unlink()
    (corpus / "new.jsonl").write_text(json.dumps({"id": "n1", "title": "Hai Phong port", "body": "The port of Hai Phong expands trade with Laos.", "lang": "en", "date": "2024-03-01"}) + "\n", encoding="utf-8")
    third = build_index(corpus, index)
    assert (third.added, third.updated, third.deleted, third.unchanged) == (1, 1, 1, 3)
    assert third.generation != first.generation
    engine = SearchEngine(index)
    assert engine.article("003_3b6ac94297977e52") is None
    assert engine.article("001_3a83ca2a18d3b337")["lang"] == "vi"
    assert ids(engine, "hai phong port")[0] == "n1"  # and the Chinese article about Hải Phòng after it
    assert engine.health()["documents"] == 5

    rebuilt = build_index(corpus, index, rebuild=True)
    assert rebuilt.added == 5 and rebuilt.documents == 5


def test_bad_files_are_reported_and_the_rest_indexed(corpus, tmp_path):
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02garbage\x00")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "broken.jsonl").write_text('{"id": "ok1", "title": "t", "body": "good line"}\n{not json\n', encoding="utf-8")
    seen = []
    summary = build_index(corpus, tmp_path / "index", on_error=seen.append)
    assert summary.failed == 3 == len(seen)
    assert {Path(e.path).name for e in seen} == {"binary.txt", "empty.txt", "broken.jsonl"}
    assert all(e.reason for e in seen)
    assert summary.documents == 6  # 5 seeds + the good JSONL line


def test_search_during_reindex_sees_a_complete_generation(corpus, tmp_path):
    index = tmp_path / "index"
    build_index(corpus, index)
    engine = SearchEngine(index)
    before = engine.health()["generation"]
    assert ids(engine, "เหงะอาน") == ["004_e47e9f12b4aac0de"]
    (corpus / "extra.jsonl").write_text(json.dumps({"id": "x1", "title": "เหงะอาน", "body": "ข่าวใหม่จังหวัดเหงะอาน"}) + "\n", encoding="utf-8")
    build_index(corpus, index)
    # the same engine object switches to the new generation by itself
    assert engine.health()["generation"] != before
    assert set(ids(engine, "เหงะอาน")) == {"004_e47e9f12b4aac0de", "x1"}


def test_unfinished_generation_is_never_read_and_is_cleaned_up(corpus, tmp_path):
    index = tmp_path / "index"
    build_index(corpus, index)
    live = store.current_generation(index)
    junk = index / "gen-29990101T000000-000000000.tmp"
    junk.mkdir()
    (junk / "garbage").write_text("half-written")
    assert store.current_generation(index) == live
    assert SearchEngine(index).health()["generation"] == live
    (corpus / "a.jsonl").write_text(json.dumps({"id": "a", "title": "t", "body": "body text"}) + "\n", encoding="utf-8")
    build_index(corpus, index)
    assert not junk.exists()


def test_concurrent_reindex_is_refused(corpus, tmp_path):
    index = tmp_path / "index"
    with store.write_lock(index):
        with pytest.raises(store.IndexBusyError):
            build_index(corpus, index)


def test_missing_index_and_corpus_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="polysearch index"):
        SearchEngine(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="corpus"):
        build_index(tmp_path / "no-corpus", tmp_path / "index")
