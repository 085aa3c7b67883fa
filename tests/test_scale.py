"""The scale benchmark's indexing figure (benchmarks/scale.py): the reindex between two floors."""
import pytest

from benchmarks import corpus_gen, scale
from indexer.article import Article
from indexer.corpus import read_corpus


def test_reindex_ratio_uses_the_mean_of_the_floors_before_and_after(tmp_path):
    corpus_dir = corpus_gen.generate(30, tmp_path / "corpus", seed=3)
    articles = [a for a in read_corpus(corpus_dir) if isinstance(a, Article)]
    figures, docs = scale.measure_indexing(corpus_dir, tmp_path / "index", articles)
    floor = figures["floor"]
    assert floor["before_seconds_on_cores"] > 0 and floor["after_seconds_on_cores"] > 0
    assert floor["seconds_on_cores"] == pytest.approx(
        (floor["before_seconds_on_cores"] + floor["after_seconds_on_cores"]) / 2)
    assert figures["ratio_vs_floor"] == pytest.approx(figures["index_seconds"] / floor["seconds_on_cores"])
    # the tokens tantivy indexes come from the first floor, one document per article
    assert sorted(doc_id for doc_id, _ in docs) == sorted(a.id for a in articles)
    assert all(any(name.startswith("body_") for name in fields) for _, fields in docs)
