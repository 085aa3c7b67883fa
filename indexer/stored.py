"""A document's stored fields, read from its segment's column with fewer layers than Whoosh's.

Each hit of a page needs its article's stored fields (the body for the snippet, the title,
the date...). searcher.stored_fields(docnum) goes through the MultiReader, the SegmentReader
(which copies the dictionary, keeping the fields the schema still has: a generator step and
two schema lookups per field, ~15 µs for our twelve), the per-document reader and two column
wrappers, then zlib.decompress and pickle.loads. Here: the column's raw bytes,
indexer.deflate's decompress (ISA-L: 22 µs against zlib's 35 for a 9 KB stored document) and
pickle.loads. An index's stored fields are its schema's (a schema change is a new index
format, and a rebuild), so there is nothing to filter. Another kind of reader (no per-document
column) goes through Whoosh.
"""
from pickle import loads

from whoosh.codec.whoosh3 import STORED_COLUMN
from whoosh.columns import CompressedBytesColumn, VarBytesColumn
from whoosh.reading import MultiReader

from . import deflate

_raw_bytes = VarBytesColumn.Reader.__getitem__


def stored_fields(searcher, docnum: int) -> dict:
    """What searcher.stored_fields(docnum) returns."""
    reader = searcher.reader()
    segment_docnum = docnum
    if isinstance(reader, MultiReader):
        segment, segment_docnum = reader._segment_and_docnum(docnum)
        reader = reader.readers[segment]
    perdoc = getattr(reader, "_perdoc", None)
    column = perdoc._cached_reader("_stored", STORED_COLUMN) if perdoc is not None and not reader.is_closed else None
    compressed = getattr(column, "_child", None)
    if not isinstance(compressed, CompressedBytesColumn.Reader) or not 0 <= segment_docnum < compressed._doccount:
        return searcher.stored_fields(docnum)       # Whoosh's path (and its errors)
    data = _raw_bytes(compressed, segment_docnum)
    return loads(deflate.decompress(data)) if data else {}
