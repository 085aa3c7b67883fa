"""The C encoder of a term's posting blocks (indexer/csegment; its posting pool is tested in
test_postingpool.py) writes the Python reference's
bytes, leaves to it what it does not handle, and is optional."""
import shutil
from array import array

import pytest
from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb.filestore import FileStorage

from benchmarks import corpus_gen
from indexer import build, store, csegment, termwriter
from indexer.schema import build_schema
from test_termwriter import _terms   # per term: its statistics and posting bytes

needs_compiler = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None,
                                    reason="no C compiler here")


@pytest.fixture(scope="module")
def encode(csegment_module):
    return csegment_module.encode_term


@needs_compiler
def test_a_reindex_writes_the_same_segment_with_and_without_it(tmp_path, monkeypatch, encode):
    corpus = corpus_gen.generate(200, tmp_path / "corpus", seed=11, procs=1)
    calls = []

    def counting(*args):
        calls.append(1)
        return encode(*args)

    monkeypatch.setattr(termwriter, "load_encoder", lambda: counting)
    build.build_index(corpus, tmp_path / "c", procs=1, vectors=False)
    monkeypatch.setattr(termwriter, "load_encoder", lambda: None)
    build.build_index(corpus, tmp_path / "python", procs=1, vectors=False)
    with_c, without = _terms(tmp_path / "c"), _terms(tmp_path / "python")
    assert len(with_c) == 1 and len(calls) == len(with_c[0]) > 10000    # every term went through C
    assert with_c == without


def _postings(docnums, weight=1.5, value=b"\x01\x02"):
    return [("body_en", b"term", d, weight, value) for d in docnums]


@needs_compiler
def test_it_agrees_with_the_reference_on_blocks_weights_values_and_lengths(encode):
    lengths = array("q", [0, 3, 9, 0, 120_000, 7] * 50)
    cases = [
        (_postings(range(1, 300, 3)), 128, 3),                       # three blocks, compressed
        (_postings([5]), 128, 3),                                     # one posting, too small to compress
        (_postings(range(0, 300, 2), weight=1.0, value=None), 2, 0),  # no weights, no values
        ([("f", b"t", d, float(d % 4 + 1), bytes([200 + d % 50])) for d in range(1, 290, 6)], 16, 9),
    ]
    shared = b"\xff\x00"     # one value object in many postings: the pickle memo's back-references
    cases.append(([("f", b"t", d, 2.0, shared) for d in range(1, 200, 5)], 128, 3))
    for postings, limit, level in cases:
        for fixed in (None, 0, 2):
            want = termwriter.encode_term_reference(postings, lengths, fixed, limit, level, 12345)
            got = encode(postings, lengths, -1 if fixed is None else fixed, limit, level, 12345)
            if fixed == 2 and postings[0][4] is None:
                assert got is NotImplemented      # fixed-size values joined into b"": bytes() reduced
            else:
                assert got == want


@needs_compiler
def test_what_it_does_not_handle_is_left_to_the_reference(encode):
    assert encode([("f", b"t", -1, 1.0, b"x")], None, -1, 128, 3, 0) is None     # spelling markers only
    assert encode(_postings([1], weight=1), None, -1, 128, 3, 0) is NotImplemented  # an int weight
    assert encode(_postings([2**31]), None, -1, 128, 3, 0) is NotImplemented
    # A block with no length present after one with some: Whoosh's min(n, None) raises.
    lengths = array("q", [4, 0])
    with pytest.raises(TypeError):
        termwriter.encode_term_reference(_postings([0, 1]), lengths, None, 1, 3, 0)
    assert encode(_postings([0, 1]), lengths, -1, 1, 3, 0) is NotImplemented
    with pytest.raises(TypeError, match="bytes-like"):
        encode(_postings([0]), [4, 0], -1, 128, 3, 0)


@needs_compiler
def test_a_term_it_leaves_is_written_by_the_python_writer(tmp_path, monkeypatch, encode):
    # One term with an int weight among float ones: the field writer falls back for that term
    # and the files are what the Python writer alone makes.
    items = [("body_en", b"alpha", d, 1.0, b"\x00\x01") for d in range(5)]
    items += [("body_en", b"beta", 1, 2, b"\x00\x02"), ("body_en", b"beta", 3, 1.0, b"\x00\x02")]
    items += [("body_en", b"gamma", d, 1.0 + d, b"\x00\x03") for d in range(0, 5, 2)]
    monkeypatch.setattr(termwriter, "_field_lengths", lambda _lengths, _field: [3, 4, 5, 6, 7])

    def write(encoder, directory):
        monkeypatch.setattr(termwriter, "load_encoder", lambda: encoder)
        storage = FileStorage(str(directory)).create()
        writer = termwriter.TermAtATimeFieldWriter(W3Codec(), storage, W3Codec().new_segment(storage, "t"))
        writer.add_postings(build_schema(), object(), iter(items))
        writer.close()
        return sorted((p.suffix, p.read_bytes()) for p in directory.iterdir())    # names are random

    used = []
    assert write(lambda *a: used.append(a[0][0][1]) or encode(*a), tmp_path / "c") == write(None, tmp_path / "py")
    assert used == [b"alpha", b"beta", b"gamma"]


@needs_compiler
def test_an_encoder_that_disagrees_with_the_reference_is_not_installed(tmp_path, monkeypatch):
    sources = tmp_path / "src"
    shutil.copytree(csegment.SOURCE_DIR, sources, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    wrong = sources / "term_blocks.c"
    wrong.write_text(wrong.read_text().replace("if (w[0] == 1.0f ?", "if (w[0] == 2.0f ?"))
    monkeypatch.setattr(csegment, "SOURCE_DIR", sources)
    with pytest.raises(csegment.BuildError, match="failed its check"):
        csegment.build(tmp_path / "lib")
    assert not list((tmp_path / "lib").glob("*.so"))


@pytest.mark.parametrize("compiler", ["/nonexistent/cc", "false"])
def test_install_step_without_a_working_compiler_warns_and_reindexing_uses_python(
        compiler, tmp_path, monkeypatch, capsys):
    from indexer.csegment.__main__ import main

    monkeypatch.setenv("POLYSEARCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", compiler)
    assert main([]) == 0
    assert "Python posting pool and term writer will be used" in capsys.readouterr().err
    assert main(["--strict"]) == 1
    assert csegment.load_encoder() is None


def test_it_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("POLYSEARCH_CSEGMENT", "off")
    assert csegment.load_encoder() is None
