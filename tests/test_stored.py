"""A document's stored fields read by indexer/stored.py are Whoosh's."""
import pytest

from indexer.stored import stored_fields
from test_termwriter import _searcher      # a Whoosh searcher of the index's live generation


@pytest.mark.parametrize("index", ["two_segment_index", "web_index_dir"])
def test_stored_fields_are_whooshs(index, request):
    index_dir = request.getfixturevalue(index)
    with _searcher(index_dir) as searcher:
        readers = getattr(searcher.reader(), "readers", [searcher.reader()])
        assert len(readers) == (2 if index == "two_segment_index" else 1)
        docnums = range(searcher.reader().doc_count_all())
        assert [stored_fields(searcher, d) for d in docnums] == [searcher.stored_fields(d) for d in docnums]
        with pytest.raises(IndexError):
            stored_fields(searcher, len(docnums))      # Whoosh's error past the last document
