"""Index compression through indexer.deflate (ISA-L): what it writes, zlib reads; an index zlib
wrote (every index before it) gives the same pages."""
import os
import pickle
import platform
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from whoosh import columns
from whoosh.codec import whoosh3
from whoosh.columns import VarBytesColumn

from indexer import deflate, store
from indexer.engine import SearchEngine
from indexer.postings import _blocks
from indexer.results import SearchRequest
from test_termwriter import _searcher, _terms     # a live generation's searcher; per segment and term, its posting bytes

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_isal_compresses_where_it_has_wheels():
    if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64") and not os.environ.get("POLYSEARCH_DEFLATE"):
        assert deflate.IMPLEMENTATION == "isal"


def test_what_the_index_compresses_zlib_decompresses(two_segment_index):
    # Whoosh's writers get their compressor back after the reindex.
    assert whoosh3.zlib is zlib and columns.CompressedBytesColumn.Writer.add is not deflate._add_deflated
    segments = _terms(two_segment_index)
    assert len(segments) == 2
    blocks = documents = 0
    for segment in segments:
        for *_, raw in segment.values():
            if raw[:len(whoosh3.WHOOSH3_HEADER_MAGIC)] != whoosh3.WHOOSH3_HEADER_MAGIC:
                continue        # inlined in the term info
            for _, _, compression, data in _blocks(raw):
                if compression:
                    assert zlib.decompress(data) == deflate.decompress(data)
                    pickle.loads(zlib.decompress(data))
                    blocks += 1
    with _searcher(two_segment_index) as searcher:
        for reader in searcher.reader().readers:
            column = reader._perdoc._cached_reader("_stored", whoosh3.STORED_COLUMN)._child
            for docnum in range(reader.doc_count_all()):
                fields = pickle.loads(zlib.decompress(VarBytesColumn.Reader.__getitem__(column, docnum)))
                assert fields["body"] and fields == reader.stored_fields(docnum)
                documents += 1
    assert blocks > 1000 and documents == 300


def test_zlib_streams_decompress_as_zlibs():
    data = pickle.dumps({"body": "Hà Tĩnh và Lào ký kết hợp tác " * 40, "title": "ห้าตินห์"}, 2)
    for level in range(1, 10):
        stream = zlib.compress(data, level)
        assert deflate.decompress(stream) == data
        assert deflate.decompressobj().decompress(stream, 100) == data[:100]
    assert zlib.decompress(deflate.compress(data, 3)) == data


def test_an_index_zlib_wrote_gives_the_same_pages(tmp_path):
    corpus = REPO_ROOT / "corpus"
    env = {**os.environ, "POLYSEARCH_DEFLATE": "zlib"}
    written = {}
    for name, extra in (("zlib", env), ("ours", os.environ)):
        index_dir = tmp_path / name
        subprocess.run([sys.executable, "-m", "web.cli", "index", "--corpus", str(corpus), "--index", str(index_dir),
                        "--quiet", "--no-vectors"], env=extra, check=True, cwd=REPO_ROOT, capture_output=True)
        gen_dir = store.generation_dir(index_dir, store.current_generation(index_dir))
        written[name] = b"".join(p.read_bytes() for p in sorted(gen_dir.iterdir()) if p.suffix == ".seg")
    if deflate.IMPLEMENTATION == "isal":
        assert written["zlib"] != written["ours"]      # really written two ways
    engines = {name: SearchEngine(tmp_path / name) for name in written}
    for query in ("Việt Nam", "vietnam laos", "hà tĩnh", '"เวียดนาม"', "越南", "فيتنام"):
        pages = [engines[name].search(SearchRequest(query, mode="lexical")) for name in written]
        assert pages[0].total > 0
        assert [(h.id, h.score, h.snippet) for h in pages[0].results] == \
               [(h.id, h.score, h.snippet) for h in pages[1].results]
        assert pages[0].facets == pages[1].facets
