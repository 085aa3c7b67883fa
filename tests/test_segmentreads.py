"""Reading a segment's files by position (indexer/segmentreads.py) gives what Whoosh's file
layers give: the same term infos for every term and for absent ones, the same posting bytes;
reads outside a region are refused; storage that is not a file keeps Whoosh's path."""
import gc
import os
import random

import pytest
from whoosh import fields
from whoosh.filedb.filestore import RamStorage
from whoosh.reading import TermNotFound

from benchmarks import corpus_gen
from indexer import postings, segmentreads
from indexer.build import build_index
from indexer.engine import SearchEngine


@pytest.fixture(scope="module")
def segment_readers(tmp_path_factory):
    corpus = corpus_gen.generate(240, tmp_path_factory.mktemp("gen-corpus"), seed=31)
    index_dir = tmp_path_factory.mktemp("gen-index")
    build_index(corpus, index_dir, rebuild=True, procs=2, vectors=False)
    engine = SearchEngine(index_dir)
    readers = [r for r, _ in engine.generation.searcher().reader().leaf_readers()]
    assert len(readers) == 2                     # one segment per writer: lookups in both
    return readers


def described(info) -> tuple:
    """Everything a W3TermInfo tells."""
    where = info.inlined_postings() if info.is_inlined() else info.extent()
    return (info.weight(), info.doc_frequency(), info.min_length(), info.max_length(), info.max_weight(),
            info.min_id(), info.max_id(), info.is_inlined(), where)


def lookup(find, reader, fieldname, text):
    try:
        return described(find(reader, fieldname, text))
    except TermNotFound:
        return "absent"


def keys_of(reader, rng) -> list[tuple[str, bytes]]:
    """Terms of the segment (a sample of each field's), and keys it does not have: the terms
    with a byte changed or appended, and in a field that lacks them."""
    by_field: dict[str, list[bytes]] = {}
    for fieldname, text in reader.all_terms():
        by_field.setdefault(fieldname, []).append(text)
    keys = []
    fieldnames = sorted(by_field)
    for fieldname in fieldnames:
        texts = by_field[fieldname]
        for text in rng.sample(texts, min(len(texts), 300)):
            keys += [(fieldname, text), (fieldname, text + b"x"), (rng.choice(fieldnames), text),
                     (fieldname, bytes([text[0] ^ 1]) + text[1:])]
    return keys


@pytest.mark.parametrize("entry_guess", [segmentreads._ENTRY_GUESS, 0], ids=["one read", "entry read apart"])
def test_term_infos_are_whooshs_for_present_and_absent_terms(segment_readers, entry_guess, monkeypatch):
    monkeypatch.setattr(segmentreads, "_ENTRY_GUESS", entry_guess)
    rng = random.Random(5)
    for reader in segment_readers:
        assert segmentreads.region_of(reader._terms._tindex.dbfile) is not None   # the new path runs
        keys = keys_of(reader, rng)
        ours = [lookup(segmentreads.term_info, reader, f, t) for f, t in keys]
        whooshs = [lookup(lambda r, f, t: r._terms.term_info(f, t), reader, f, t) for f, t in keys]
        assert ours == whooshs
        assert sum(found != "absent" for found in ours) > 1000
        assert sum(found == "absent" for found in ours) > 1000
        assert any(found != "absent" and not found[7] for found in ours)      # lists in the posting file


def test_posting_lists_read_by_position_are_the_same(segment_readers, monkeypatch):
    rng = random.Random(8)
    read = []
    for reader in segment_readers:
        for fieldname, text in rng.sample(list(reader.all_terms()), 400):
            info = reader._terms.term_info(fieldname, text)
            read.append((reader, fieldname, info))
    assert sum(not info.is_inlined() for _, _, info in read) > 50

    def everything():
        return [tuple(part.tolist() for part in postings.read_postings(reader, fieldname, info))
                for reader, fieldname, info in read]

    by_position = everything()
    monkeypatch.setattr(postings, "region_of", lambda structfile: None)
    assert everything() == by_position


def test_reads_outside_a_region_are_refused(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(bytes(range(100)))
    region = segmentreads.FileRegion(str(path), 10, 50)
    assert region.get(0, 4) == bytes([10, 11, 12, 13])
    assert region.get(46, 4) == bytes([56, 57, 58, 59])
    for position, length in ((47, 4), (-1, 2), (3, -1), (50, 1)):
        with pytest.raises(EOFError):
            region.get(position, length)
    past_the_file = segmentreads.FileRegion(str(path), 90, 50)
    with pytest.raises(EOFError, match="short read"):
        past_the_file.get(0, 20)


def test_a_regions_descriptor_is_closed_with_it(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"0123456789")
    before = len(os.listdir("/proc/self/fd"))
    region = segmentreads.FileRegion(str(path), 0, 10)
    assert len(os.listdir("/proc/self/fd")) == before + 1
    del region
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


def test_an_index_in_memory_keeps_whooshs_path():
    storage = RamStorage()
    index = storage.create_index(fields.Schema(body=fields.TEXT))
    with index.writer() as writer:
        writer.add_document(body="hai phong ha tinh")
    with index.searcher() as searcher:
        reader = searcher.reader()
        assert segmentreads.region_of(reader._terms._tindex.dbfile) is None
        assert segmentreads.term_info(reader, "body", b"tinh").doc_frequency() == 1
        with pytest.raises(TermNotFound):
            segmentreads.term_info(reader, "body", b"hanoi")


def test_a_readers_table_and_descriptors_go_with_it(tmp_path):
    """The tables and regions are kept for as long as their reader, not the process."""
    from whoosh.filedb.filestore import FileStorage
    storage = FileStorage(str(tmp_path), supports_mmap=False)
    index = storage.create_index(fields.Schema(body=fields.TEXT))
    with index.writer() as writer:
        writer.add_document(body="hai phong ha tinh")
    gc.collect()
    fds, tables = len(os.listdir("/proc/self/fd")), len(segmentreads._TABLES)
    searcher = index.searcher()
    reader = searcher.reader()
    assert segmentreads.term_info(reader, "body", b"phong").doc_frequency() == 1
    assert len(segmentreads._TABLES) == tables + 1
    searcher.close()
    del searcher, reader
    gc.collect()
    assert len(segmentreads._TABLES) == tables
    assert len(os.listdir("/proc/self/fd")) == fds


def test_without_pread_whooshs_path_reads_the_same(segment_readers, monkeypatch):
    reader = segment_readers[0]
    keys = keys_of(reader, random.Random(2))[:400]
    ours = [lookup(segmentreads.term_info, reader, f, t) for f, t in keys]
    monkeypatch.delattr(os, "pread")
    monkeypatch.setattr(segmentreads, "_REGIONS", segmentreads.weakref.WeakKeyDictionary())
    monkeypatch.setattr(segmentreads, "_TABLES", segmentreads.weakref.WeakKeyDictionary())
    assert segmentreads.region_of(reader._terms._tindex.dbfile) is None
    assert [lookup(segmentreads.term_info, reader, f, t) for f, t in keys] == ours
