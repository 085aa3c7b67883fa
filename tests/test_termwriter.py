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


def test_the_segment_files_written_term_by_term_keep_their_position(tmp_path):
    # A segment's postings and term files answer tell() without asking the OS; the byte
    # comparisons above hold only if what they answer is where the bytes went.
    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.filedb.filestore import FileStorage

    storage = FileStorage(str(tmp_path)).create()
    segment = W3Codec().new_segment(storage, "t")
    writer = termwriter.TermAtATimeFieldWriter(W3Codec(), storage, segment)
    assert isinstance(writer._postfile.file, termwriter.PositionKeepingFile)
    assert isinstance(writer._tindex.dbfile.file, termwriter.PositionKeepingFile)
    postfile = writer._postfile
    real = postfile.file._file      # the BufferedWriter underneath, asking the OS
    for size in (0, 1, 7, 5000, 3):
        postfile.write(b"x" * size)
        postfile.write_varint(size * 1000)
        postfile.write_pickle({"n": size})
        assert postfile.tell() == real.tell()
    end = postfile.tell()
    assert end > 5000
    postfile.seek(10)
    postfile.write(b"yy")
    assert postfile.tell() == real.tell() == 12
    postfile.seek(0, 2)
    assert postfile.tell() == real.tell() == end
    writer.close()
