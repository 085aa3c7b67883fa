"""The scale benchmarks: the indexing figure (benchmarks/scale.py), the reindex between two floors; the
tantivy page; the machine record; the hybrid timeline (benchmarks/hybrid_timeline.py)."""
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
    assert sorted(doc_id for doc_id, _, _ in docs) == sorted(a.id for a in articles)
    assert all(any(name.startswith("body_") for name in fields) for _, fields, _ in docs)
    assert all(page["lang"] and page["title"] for _, _, page in docs)


def test_tantivy_page_counts_what_our_search_page_counts(tmp_path):
    """The reference's page (benchmarks/tantivy_ref.py) does our page's work: the same total and
    facet counts for every query of the mix, and a highlighted snippet for each hit."""
    tantivy_ref = pytest.importorskip("benchmarks.tantivy_ref")
    pytest.importorskip("tantivy")
    from indexer.build import build_index
    from indexer.engine import SearchEngine
    from indexer.results import SearchRequest

    corpus_dir = corpus_gen.generate(60, tmp_path / "corpus", seed=4)
    articles = [a for a in read_corpus(corpus_dir) if isinstance(a, Article)]
    build_index(corpus_dir, tmp_path / "index", rebuild=True, procs=1, vectors=False)
    _, docs = scale.tokenize_chunk(articles)
    ref = tantivy_ref.TantivyIndex(tmp_path / "tantivy", threads=1)
    for doc_id, fields, page in docs:
        ref.add(doc_id, fields, page)
    ref.commit()
    engine = SearchEngine(tmp_path / "index")
    compared = marked = 0
    for _, q in corpus_gen.query_mix():
        compiled = engine._compile(q).query
        if compiled is None:
            continue
        ours = engine.search(SearchRequest(q, mode="lexical"))
        theirs = ref.page(ref.translate(compiled), 10)
        assert theirs["total"] == ours.total, q
        for facet, name in (("lang", "lang"), ("source", "source"), ("year", "year"), ("entities", "entity")):
            assert theirs["facets"][name] == dict(ours.facets.get(facet, {})), (q, facet)
        assert len(theirs["hits"]) == len(ours.results)
        marked += sum("<b>" in snippet for _, _, snippet in theirs["hits"])
        compared += bool(ours.total)
    assert compared >= 20 and marked >= compared


def test_machine_record_names_the_cpu_and_the_instructions_the_kernels_pick_from():
    record = scale.machine()
    assert record["cpus"] >= 1 and record["cpu"]
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            text = info.read()
    except OSError:
        pytest.skip("no /proc/cpuinfo here")
    models = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")]
    flags = next(line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags"))
    if models:
        assert record["cpu"] == models[0]
    assert record["isa"] == sorted(record["isa"])
    assert set(record["isa"]) <= set(flags)
    assert ("avx2" in record["isa"]) == ("avx2" in flags)


def test_hybrid_timeline_marks_the_stages_in_the_order_they_run_and_leaves_the_engine_as_it_was(
        parallel_index_dir):
    from benchmarks import hybrid_timeline
    from indexer import engine as engine_module
    from indexer.dense import get_encoder
    from indexer.engine import SearchEngine

    if get_encoder() is None:
        pytest.skip("no dense model here")
    before = (SearchEngine._hit, SearchEngine._dense, engine_module.filtered_matches)
    result = hybrid_timeline.measure(parallel_index_dir, rounds=1,
                                     queries=["port investment cooperation", "hợp tác giáo dục", "ความร่วมมือ"])
    assert (SearchEngine._hit, SearchEngine._dense, engine_module.filtered_matches) == before
    hybrid, lexical = result["hybrid"]["stages_p50_ms"], result["lexical"]["stages_p50_ms"]
    assert result["hybrid"]["queries"] == result["lexical"]["queries"] == 3
    order = ["model starts", "model done", "int8 product done", "dense list", "fused", "page done"]
    if "int8 product done" not in hybrid:            # no C compiler: the float32 product
        order.remove("int8 product done")
    assert [hybrid[name] for name in order] == sorted(hybrid[name] for name in order)
    assert hybrid["lexical matches"] < hybrid["page done"]
    assert "model starts" not in lexical and lexical["lexical matches"] < lexical["page done"]
    assert result["hybrid"]["hits_per_query"] > 0
