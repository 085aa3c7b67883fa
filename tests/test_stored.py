"""A document's stored fields read by indexer/stored.py are Whoosh's."""
import pytest

from indexer.stored import stored_fields


@pytest.mark.parametrize("index", ["two_segment_index", "web_index_dir"])
def test_stored_fields_are_whooshs(index, request, whoosh_searcher):
    index_dir = request.getfixturevalue(index)
    with whoosh_searcher(index_dir) as searcher:
        readers = getattr(searcher.reader(), "readers", [searcher.reader()])
        assert len(readers) == (2 if index == "two_segment_index" else 1)
        docnums = range(searcher.reader().doc_count_all())
        assert [stored_fields(searcher, d) for d in docnums] == [searcher.stored_fields(d) for d in docnums]
        with pytest.raises(IndexError):
            stored_fields(searcher, len(docnums))      # Whoosh's error past the last document
