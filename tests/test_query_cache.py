"""The query cache: hits are copies, LRU eviction, and a reindex invalidates it."""
import json

from indexer.build import build_index
from indexer.engine import SearchEngine
from indexer.query_cache import QueryCache
from indexer.results import SearchRequest


def test_lru_copies_and_generation_switch():
    cache = QueryCache(entries=2)
    cache.put("g1", "a", {"n": [1]})
    got = cache.get("g1", "a")
    got["n"].append(2)                                   # a caller changing its copy ...
    assert cache.get("g1", "a") == {"n": [1]}           # ... does not change the cache
    cache.put("g1", "b", 2)
    cache.get("g1", "a")
    cache.put("g1", "c", 3)                              # evicts b, the least recently used
    assert cache.get("g1", "b") is None and cache.get("g1", "a") is not None
    assert cache.get("g2", "a") is None                  # another generation: emptied
    assert cache.get("g1", "a") is None


def test_disabled_cache_stores_nothing():
    cache = QueryCache(entries=0)
    cache.put("g", "a", 1)
    assert cache.get("g", "a") is None


def _write(corpus, articles):
    (corpus / "news.jsonl").write_text(
        "\n".join(json.dumps(a, ensure_ascii=False) for a in articles) + "\n", encoding="utf-8")


def test_reindex_invalidates_cached_results(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    first = {"id": "a", "lang": "en", "title": "Harbour news", "body": "The harbour of Haiphong grew."}
    _write(corpus, [first])
    build_index(corpus, index)
    engine = SearchEngine(index)
    request = SearchRequest(query="haiphong harbour", mode="lexical")
    assert [h.id for h in engine.search(request).results] == ["a"]
    assert [h.id for h in engine.search(request).results] == ["a"] and engine.cache.hits == 1
    _write(corpus, [first, {"id": "b", "lang": "en", "title": "More harbour news",
                            "body": "Haiphong harbour traffic doubled."}])
    build_index(corpus, index)
    assert sorted(h.id for h in engine.search(request).results) == ["a", "b"]
