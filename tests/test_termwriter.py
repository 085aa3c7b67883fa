"""The term-at-a-time field writer writes what Whoosh's own writes, byte for byte."""
from contextlib import nullcontext
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from benchmarks import corpus_gen
from indexer import build, store, termwriter


def _searcher(index_dir: Path):
    gen_dir = store.generation_dir(index_dir, store.current_generation(index_dir))
    return whoosh_index.open_dir(str(gen_dir)).searcher()


def _terms(index_dir: Path) -> list[dict]:
    """Per segment and term: its statistics and its posting list's raw bytes."""
    out = []
    with _searcher(index_dir) as searcher:
        for sub, _ in searcher.leaf_searchers():
            reader = sub.reader()
            segment = {}
            for fieldname, text in reader.all_terms():
                info = reader._terms.term_info(fieldname, text)
                offset, length = info.extent()
                length = length[0] if isinstance(length, tuple) else length
                segment[(fieldname, text)] = (
                    info.weight(), info.doc_frequency(), info.min_length(), info.max_length(),
                    info.max_weight(), info.min_id(), info.max_id(),
                    reader._terms._postfile.get(offset, length))
            out.append(segment)
    return out


def _postings_by_article(index_dir: Path) -> list[tuple]:
    """Every posting with the article's id for its docnum: which writer process wrote which
    articles varies from run to run."""
    with _searcher(index_dir) as searcher:
        reader = searcher.reader()
        ids = [reader.stored_fields(d)["id"] for d in range(reader.doc_count_all())]
        return sorted((f, t, ids[d], w, v) for f, t, d, w, v in reader.iter_postings())


@pytest.fixture
def small_blocks(monkeypatch):
    # Blocks of 2 postings (W3Codec's blocklimit, compression, inlinelimit): terms of many blocks.
    monkeypatch.setattr(termwriter.whoosh3.W3Codec.__init__, "__defaults__", (2, 3, 1))


def _build_both(tmp_path, monkeypatch, procs: int) -> tuple[Path, Path]:
    corpus = corpus_gen.generate(300, tmp_path / "corpus", seed=3, procs=1)
    build.build_index(corpus, tmp_path / "ours", procs=procs, vectors=False)
    monkeypatch.setattr(build, "term_at_a_time_field_writer", nullcontext)
    build.build_index(corpus, tmp_path / "whoosh", procs=procs, vectors=False)
    return tmp_path / "ours", tmp_path / "whoosh"


def test_a_segment_has_whooshs_terms_and_posting_bytes(tmp_path, monkeypatch, small_blocks):
    ours, whooshs = map(_terms, _build_both(tmp_path, monkeypatch, procs=1))
    assert len(ours) == 1 and sum(len(s) for s in ours) > 20000
    assert sum(v[1] > 4 for v in ours[0].values()) > 50          # terms of 3 blocks or more
    assert ours == whooshs


def test_writer_processes_write_whooshs_postings(tmp_path, monkeypatch, small_blocks):
    ours, whooshs = map(_postings_by_article, _build_both(tmp_path, monkeypatch, procs=2))
    assert len(ours) > 100000 and ours == whooshs
