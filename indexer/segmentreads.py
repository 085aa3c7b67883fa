"""Reads of an opened segment's files by position, with os.pread, and its terms table looked up
through them.

Whoosh reads a segment through layers: StructFile.get seeks, then SubFile.read seeks the
compound file's buffered reader and reads from it (several Python calls for each). A term
lookup takes a few such reads of 12 bytes and more: 15-17 µs a lookup at 100,000 articles,
10 µs with these reads (2026-12-03). Here a region of a segment file (a compound file's
sub-file, or a whole file) is read with one os.pread on a descriptor of our own: no file
position, so threads may share it; a segment's files never change once written. Anything
else (a file in memory, another kind of storage) keeps Whoosh's path: region_of returns None.
Lexical search alternating per query over the benchmark mix, the same pages: p50 10.01 → 9.70
and 8.55 → 8.23 ms at 100k articles, 8.50 → 8.18 ms at 10k. (A memory map instead of pread
gained 0.08 ms more, and would count every page it touched in the server's memory.)
"""
import os
import threading
import weakref

from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.compound import SubFile
from whoosh.filedb.filetables import _lengths, _pointer
from whoosh.reading import TermNotFound
from whoosh.system import pack_ushort

# A slot and the lengths of an entry, and a guess at a key and its value: read in one call, a
# term's entry (key, its W3TermInfo) usually arrives whole. Longer values take a second read.
_ENTRY_GUESS = 256


class FileRegion:
    """Bytes [base, base + length) of a file, read by position (thread-safe)."""

    __slots__ = ("_fd", "base", "length", "__weakref__")

    def __init__(self, path: str, base: int, length: int):
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self.base, self.length = base, length
        weakref.finalize(self, os.close, self._fd)

    def get(self, position: int, length: int) -> bytes:
        """What StructFile.get(position, length) returns: exactly length bytes, or an error."""
        if position < 0 or length < 0 or position + length > self.length:
            raise EOFError(f"read of {length} bytes at {position} outside a region of {self.length}")
        data = os.pread(self._fd, length, self.base + position)
        if len(data) != length:
            raise EOFError(f"short read: {len(data)} of {length} bytes at {position}")
        return data


_REGIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def region_of(structfile) -> FileRegion | None:
    """The FileRegion a Whoosh StructFile reads (made on first use, dropped with the StructFile),
    or None where it reads something else."""
    try:
        return _REGIONS[structfile]
    except (KeyError, TypeError):
        pass
    if not hasattr(os, "pread"):                # not on every platform
        return None
    inner = getattr(structfile, "file", None)
    if isinstance(inner, SubFile) and hasattr(inner._file, "fileno"):
        path, base, length = getattr(inner._file, "name", None), inner._offset, inner._length
    elif hasattr(inner, "fileno") and hasattr(inner, "name"):
        path, base = inner.name, 0
        length = os.fstat(inner.fileno()).st_size
    else:
        return None
    if not isinstance(path, str):
        return None
    try:
        region = FileRegion(path, base, length)
    except OSError:
        return None
    with _LOCK:
        return _REGIONS.setdefault(structfile, region)


class TermTable:
    """A whoosh3 segment's terms table (W3TermsReader), looked up as Whoosh's HashReader does
    (the same hash, tables and probing), over a FileRegion."""

    def __init__(self, terms_reader, region: FileRegion):
        table = terms_reader._tindex
        # the reader's field numbers, not its bound _keycoder: a table kept for a reader (weakly)
        # must not keep the reader alive
        self._fieldmap, self._hash, self._tables = terms_reader._fieldmap, table.hashfn, table.tables
        self._region = region

    def term_info(self, fieldname: str, btext: bytes) -> W3TermInfo:
        """What W3TermsReader.term_info returns, or TermNotFound."""
        key = pack_ushort(self._fieldmap.get(fieldname, 65535)) + btext     # W3TermsReader._keycoder
        keyhash = self._hash(key)
        tablestart, numslots = self._tables[keyhash & 255]
        get = self._region.get
        if numslots:
            slot = (keyhash >> 8) % numslots
            for _ in range(numslots):
                slothash, itempos = _pointer.unpack(get(tablestart + slot * _pointer.size, _pointer.size))
                if not itempos:
                    break
                if slothash == keyhash:
                    head = get(itempos, min(_lengths.size + len(key) + _ENTRY_GUESS, self._region.length - itempos))
                    keylen, datalen = _lengths.unpack_from(head)
                    end = _lengths.size + keylen
                    if keylen == len(key) and head[_lengths.size:end] == key:
                        value = head[end:end + datalen]
                        if len(value) < datalen:
                            value = get(itempos + end, datalen)
                        return W3TermInfo.from_bytes(value)
                slot = (slot + 1) % numslots
        raise TermNotFound(f"No term {fieldname}:{btext!r}")


_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def term_info(reader, fieldname: str, btext: bytes) -> W3TermInfo:
    """reader._terms.term_info(fieldname, btext) (a whoosh3 SegmentReader), through a TermTable
    where its file can be read by position."""
    terms = reader._terms
    table = _TABLES.get(terms)
    if table is None:
        region = region_of(terms._tindex.dbfile)
        if region is None:
            return terms.term_info(fieldname, btext)
        with _LOCK:
            table = _TABLES.setdefault(terms, TermTable(terms, region))
    return table.term_info(fieldname, btext)
