"""The posting pools (ChunkedPostingPool in Python, CompiledPostingPool in C): the same
postings, in the same order, as Whoosh's own pool."""
import random
from contextlib import nullcontext
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import RamStorage
from whoosh.writing import PostingPool

from indexer import build, csegment, postingpool, store
from indexer.postingpool import ChunkedPostingPool, CompiledPostingPool

REPO_ROOT = Path(__file__).resolve().parent.parent


def _postings(n: int, seed: int = 5) -> list[tuple]:
    rng = random.Random(seed)
    fields = ["body_en", "body_th", "entities", "title_zh"]
    words = [f"w{i}".encode() for i in range(300)]
    return [(rng.choice(fields), rng.choice(words), rng.randrange(5000), float(rng.randrange(1, 4)),
             bytes(rng.randrange(256) for _ in range(rng.randrange(4))) or None) for _ in range(n)]


def _postings_by_document(docs: int, seed: int = 7) -> list[tuple]:
    """As a segment writer adds them: document after document, each (field, term) once per
    document, in no particular order within it."""
    rng = random.Random(seed)
    fields = ["body_en", "body_th", "entities", "title_zh"]
    words = [f"w{i}".encode() for i in range(300)]
    out = []
    for docnum in range(docs):
        pairs = {(rng.choice(fields), rng.choice(words)) for _ in range(rng.randrange(1, 40))}
        out += [(f, w, docnum, float(rng.randrange(1, 4)), bytes([rng.randrange(256)]))
                for f, w in sorted(pairs, key=lambda _: rng.random())]
    return out


@pytest.fixture(params=["python", "c"])
def pool_class(request, monkeypatch):
    if request.param == "python":
        return ChunkedPostingPool
    module = request.getfixturevalue("csegment_module")
    monkeypatch.setattr(csegment, "load", lambda directory=None: module)
    return CompiledPostingPool


def _pooled(pool_class, postings, limit_bytes, maxfiles=128):
    storage = RamStorage()
    pool = pool_class(storage.temp_storage("t"), segment=None, limitmb=1)
    pool.limit = limit_bytes
    for posting in postings:
        pool.add(posting)
    runs = len(pool.runs)
    return list(pool.items(maxfiles=maxfiles)), runs


@pytest.mark.parametrize("maxfiles", [128, 3])     # 3: runs are merged into fewer runs first
def test_runs_merge_to_whooshs_order(monkeypatch, maxfiles, pool_class):
    monkeypatch.setattr(postingpool, "CHUNK", 7)    # many chunk boundaries inside each run
    postings = _postings(6000)
    ours, runs = _pooled(pool_class, postings, 20_000, maxfiles)
    whooshs, _ = _pooled(PostingPool, postings, 20_000, maxfiles)
    assert runs > 10
    assert ours == whooshs == sorted(postings)


@pytest.mark.parametrize("limit_bytes", [20_000, 10**9])     # many runs; none
def test_postings_added_document_by_document_come_out_in_whooshs_order(monkeypatch, limit_bytes, pool_class):
    # The pool's usual case: sorted by term alone, each term's postings kept in docnum order.
    monkeypatch.setattr(postingpool, "CHUNK", 7)
    postings = _postings_by_document(400)
    ours, runs = _pooled(pool_class, postings, limit_bytes)
    whooshs, _ = _pooled(PostingPool, postings, limit_bytes)
    assert (runs > 10) == (limit_bytes < 10**6)
    assert ours == whooshs == sorted(postings)


@pytest.mark.parametrize("limit_bytes", [20_000, 10**9])
def test_a_posting_out_of_docnum_order_makes_the_pool_sort_whole_tuples(pool_class, limit_bytes):
    # A merge of segments adds term by term: docnums go back. Sorting by term alone would
    # keep such postings in the order they came.
    postings = _postings_by_document(200)
    postings = postings[len(postings) // 2:] + postings[:len(postings) // 2]
    ours, _ = _pooled(pool_class, postings, limit_bytes)
    assert ours == sorted(postings)


def test_a_run_read_back_whole_is_its_postings_in_order(monkeypatch):
    # MpWriter's single-segment commit reads a worker's run posting by posting.
    monkeypatch.setattr(postingpool, "CHUNK", 10)
    storage = RamStorage()
    pool = ChunkedPostingPool(storage.temp_storage("t"), segment=None, limitmb=1)
    postings = _postings(95)
    for posting in postings:
        pool.add(posting)
    pool.save()
    assert list(pool._read_run(pool.runs[0])) == sorted(postings)


def _all_postings(index_dir: Path) -> list[tuple]:
    gen_dir = store.generation_dir(index_dir, store.current_generation(index_dir))
    with whoosh_index.open_dir(str(gen_dir)).searcher() as searcher:
        return list(searcher.reader().iter_postings())


def test_an_index_built_with_spilling_runs_has_whooshs_postings(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "WRITER_MEMORY_MB", 0.02)    # ~100 postings per run: many runs
    monkeypatch.setattr(postingpool, "CHUNK", 13)
    build.build_index(REPO_ROOT / "corpus", tmp_path / "chunked", procs=1, vectors=False)
    monkeypatch.setattr(build, "chunked_posting_pool", nullcontext)
    build.build_index(REPO_ROOT / "corpus", tmp_path / "whoosh", procs=1, vectors=False)
    ours, whooshs = _all_postings(tmp_path / "chunked"), _all_postings(tmp_path / "whoosh")
    assert len(ours) > 1000 and ours == whooshs


def test_the_compiled_pool_gives_back_the_tuples_it_holds_and_removes_its_runs(monkeypatch, csegment_module):
    monkeypatch.setattr(csegment, "load", lambda directory=None: csegment_module)
    storage = RamStorage()
    temp = storage.temp_storage("t")
    pool = CompiledPostingPool(temp, segment=None, limitmb=1)
    pool.limit = 2_000
    postings = _postings_by_document(100)
    for posting in postings:
        pool.add(posting)
    held = {id(p) for p in postings[len(postings) - len(pool._buffer):]}   # added since the last spill
    assert pool.runs and held and len(pool.fieldnames) == 4
    out = list(pool.items())
    assert out == sorted(postings) and held <= {id(p) for p in out}
    assert pool.runs == [] and list(temp.list()) == []
    with pytest.raises(TypeError, match="posting"):
        pool.add(("body_en", "not bytes", 1, 1.0, b""))
    assert list(pool.items()) == []             # the pool is usable after a merge


def test_an_index_built_by_the_compiled_pool_has_the_python_pools_postings(tmp_path, monkeypatch, csegment_module):
    monkeypatch.setattr(build, "WRITER_MEMORY_MB", 0.02)    # many runs
    monkeypatch.setattr(csegment, "load", lambda directory=None: csegment_module)
    monkeypatch.setattr(postingpool, "posting_pool_class", lambda: CompiledPostingPool)
    build.build_index(REPO_ROOT / "corpus", tmp_path / "c", procs=1, vectors=False)
    monkeypatch.setattr(postingpool, "posting_pool_class", lambda: ChunkedPostingPool)
    build.build_index(REPO_ROOT / "corpus", tmp_path / "python", procs=1, vectors=False)
    ours, theirs = _all_postings(tmp_path / "c"), _all_postings(tmp_path / "python")
    assert len(ours) > 1000 and ours == theirs


def test_segments_merged_through_the_compiled_pool_keep_their_postings(tmp_path, monkeypatch, csegment_module):
    # Merging segments re-adds their postings to a pool segment by segment (Whoosh's
    # add_postings_to_pool), docnums renumbered: the merged index has every posting.
    from benchmarks import corpus_gen
    from indexer.termwriter import term_at_a_time_field_writer

    monkeypatch.setattr(csegment, "load", lambda directory=None: csegment_module)
    monkeypatch.setattr(postingpool, "posting_pool_class", lambda: CompiledPostingPool)
    corpus = corpus_gen.generate(240, tmp_path / "corpus", seed=4, procs=1)
    build.build_index(corpus, tmp_path / "ix", procs=2, vectors=False)     # a segment per writer
    gen_dir = store.generation_dir(tmp_path / "ix", store.current_generation(tmp_path / "ix"))

    def postings_by_article():
        with whoosh_index.open_dir(str(gen_dir)).searcher() as searcher:
            reader = searcher.reader()
            ids = {d: reader.stored_fields(d)["id"] for d in reader.all_doc_ids()}
            segments = len(searcher.leaf_searchers())
            return segments, sorted((f, t, ids[d], w, v) for f, t, d, w, v in reader.iter_postings() if d in ids)

    segments, before = postings_by_article()
    spills, save = [], CompiledPostingPool.save
    monkeypatch.setattr(CompiledPostingPool, "save", lambda pool: spills.append(len(pool._buffer)) or save(pool))
    with postingpool.chunked_posting_pool(), term_at_a_time_field_writer():
        writer = whoosh_index.open_dir(str(gen_dir)).writer(limitmb=0.5)    # the merge's pool spills
        assert isinstance(writer.pool, CompiledPostingPool)
        writer.commit(optimize=True)
    merged, after = postings_by_article()
    assert segments == 2 and merged == 1 and sum(n > 0 for n in spills) > 5
    assert len(before) > 50000 and after == before


@pytest.mark.parametrize("text", [
    "river sea river hanoi sea river",                      # every boost 1.0: weights from the counts
    "river sea river^0.5 sea^2 hanoi river^3 delta",      # the first other boost after terms seen twice
    "lake^2 lake river lake^0.25",                          # from the first token on
])
@pytest.mark.parametrize("format_boost,field_boost", [(1.0, 1.0), (1.5, 2.0), (2.0, 3)])
def test_add_field_makes_whooshs_postings_whatever_the_tokens_boosts(csegment_module, text, format_boost,
                                                                      field_boost):
    # Whoosh's path: Positions.word_values sums each term's boosts, times the format's boost;
    # add_document multiplies by the field's boost (an int here: Python's arithmetic).
    from whoosh import formats
    from whoosh.analysis import DelimitedAttributeFilter, RegexTokenizer

    from indexer.positions import _ONCE_MAX, encode_positions

    analyzer = RegexTokenizer(r"\S+") | DelimitedAttributeFilter()     # "sea^2": boost 2.0
    want = [("body_en", word.encode(), 7, weight * field_boost, value) for word, _, weight, value
            in formats.Positions(field_boost=format_boost).word_values(text, analyzer, mode="index")]
    pool = csegment_module.PostingBuffer(1 << 40, 100, set(), lambda: None)
    length = pool.add_field("body_en", 7, analyzer(text, mode="index", positions=True, boosts=True),
                            format_boost, field_boost, {}, _ONCE_MAX, encode_positions, None, None)
    got = list(pool.merge([], lambda: None))
    assert got == sorted(want) and length == len(text.split())
    assert [type(p[3]) for p in got] == [type(p[3]) for p in sorted(want)]
