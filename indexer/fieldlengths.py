"""Field lengths in memory for BM25.

BM25 needs each scored document's field length. Whoosh keeps them in a one-byte-per-document
column per field and reads each one with a seek and a read on the column file (we open the
index without mmap, see engine._Generation), once per scored posting: 18% of the scoring time
at 10k articles. Read once per generation, the lengths of all fields cost one byte per document
and field (1.4 MB at 100k articles).

This reaches into whoosh3's per-document reader (whoosh3 is pinned to one version); when its
shape is not the expected one, nothing is replaced and Whoosh reads the column as before.
"""
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3PerDocReader, _lenfield
from whoosh.columns import NumericColumn


def _column_bytes(reader) -> bytes | None:
    if not isinstance(reader, NumericColumn.Reader) or getattr(reader, "_typecode", None) != "B":
        return None
    try:
        data = reader._dbfile.get(reader._basepos, reader._count)
        missing = reader._doccount - len(data)
    except (AttributeError, OSError, ValueError):
        return None
    return data + bytes(missing) if missing > 0 else data   # past the column's end: length 0


def load_lengths(searcher) -> list[dict[str, bytes]]:
    """Per leaf segment of the searcher's reader: {length column name: the lengths as bytes}."""
    scorable = [name for name, field in searcher.schema.items() if field.scorable]
    out = []
    for leaf, _ in searcher.reader().leaf_readers():
        perdoc = getattr(leaf, "_perdoc", None)
        lengths = {}
        if isinstance(perdoc, W3PerDocReader):
            for fieldname in scorable:
                lenfield = _lenfield(fieldname)
                data = _column_bytes(perdoc._cached_reader(lenfield, LENGTHS_COLUMN))
                if data is not None:
                    lengths[lenfield] = data
        out.append(lengths)
    return out


def install_lengths(searcher, lengths: list[dict[str, bytes]]) -> None:
    """Make the searcher's segments read field lengths from `lengths` (see load_lengths)."""
    leaves = searcher.reader().leaf_readers()
    if len(leaves) != len(lengths):
        return
    for (leaf, _), segment_lengths in zip(leaves, lengths):
        perdoc = getattr(leaf, "_perdoc", None)
        readers = getattr(perdoc, "_readers", None)
        if isinstance(readers, dict):
            # bytes[docnum] is the int the column reader would have decoded.
            readers.update(segment_lengths)
