"""The scoring shortcuts (field lengths in memory, matcher pruning) rank exactly as plain Whoosh.

A generated multilingual corpus, indexed by two worker processes into several segments, is
searched with the engine's searcher and with a plain Whoosh searcher with the stock collector;
the matches, their order and their scores must be identical.
"""
import pytest
from whoosh.collectors import TopCollector
from whoosh.scoring import BM25F

from benchmarks import corpus_gen
from indexer.build import build_index
from indexer.engine import BM25_B, BM25_K1, SearchEngine
from indexer import facets
from indexer.facets import scored_matches


@pytest.fixture(scope="module")
def generated_engine(tmp_path_factory):
    corpus = corpus_gen.generate(260, tmp_path_factory.mktemp("gen-corpus"), seed=11)
    index_dir = tmp_path_factory.mktemp("gen-index")
    build_index(corpus, index_dir, rebuild=True, procs=2, vectors=False)
    return SearchEngine(index_dir)


def plain_results(searcher, query, limit):
    """Every match and the top `limit` by the stock collector: no block skipping, no replacing."""
    collector = TopCollector(limit=limit, usequality=False, replace=0)
    docs = set(searcher.docs_for_query(query))
    searcher.search_with_collector(query, collector)
    return docs, [(round(score, 9), -neg) for score, neg in sorted(collector.items, reverse=True)]


def test_lengths_are_read_into_memory(generated_engine):
    searcher = generated_engine.generation.searcher()
    leaves = searcher.reader().leaf_readers()
    assert len(leaves) >= 2
    for leaf, _ in leaves:
        lengths = {k: v for k, v in leaf._perdoc._readers.items() if k.endswith("_len")}
        assert lengths and all(isinstance(v, bytes) and len(v) == leaf.doc_count_all()
                               for v in lengths.values())


@pytest.mark.parametrize("replace_every", [facets.REPLACE_EVERY, 1])
def test_engine_scoring_matches_plain_whoosh(generated_engine, monkeypatch, replace_every):
    monkeypatch.setattr(facets, "REPLACE_EVERY", replace_every)   # 1: prune as often as possible
    gen = generated_engine.generation
    fast = gen.searcher()
    plain = gen.index.searcher(weighting=BM25F(B=BM25_B, K1=BM25_K1))
    compared = 0
    for _, text in corpus_gen.query_mix(per_lang=8):
        query = generated_engine._compile(text).query
        if query is None:
            continue
        results = scored_matches(fast, query, None, 3)
        docs, top = plain_results(plain, query, 3)
        assert results.docs() == docs, text
        assert [(round(score, 9), docnum) for score, docnum in results.top_n] == top, text
        compared += bool(docs)
    assert compared >= 20
