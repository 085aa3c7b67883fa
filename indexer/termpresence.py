"""Which terms a segment cannot have, answered from memory.

A query looks every word up in every language's fields of every segment, and most of those
words are not there (a Thai word in the Vietnamese fields, an English one in the Chinese): on
the benchmark mix at 10,000 articles, 10,127 of 12,454 lookups. Whoosh answers each miss by
hashing the key and probing its on-disk hash table through the compound file, a few reads of
12 bytes each. The table already holds every key's 32-bit hash, so one read of the table region
gives a bitmap of them: a key whose hash bit is unset is certainly absent; a set bit (every
present key, and ~6% of absent ones at 16 bits per key) goes on to Whoosh's lookup as before.
Nothing is ever answered from the bitmap but "absent", so results cannot change.
"""
import struct

import numpy as np
from whoosh.filedb.filetables import HashReader

BITS_PER_KEY = 16          # one hash per key: false-positive rate 1 - e^(-1/16) ≈ 6%
MIN_BITS = 1 << 12
_SLOT = np.dtype([("hash", ">u4"), ("position", ">i8")])   # filetables' "!Iq" slot
assert _SLOT.itemsize == struct.calcsize("!Iq")


class TermPresence:
    """A bitmap of the key hashes of one whoosh3 terms table (W3TermsReader)."""

    def __init__(self, terms_reader):
        table: HashReader = terms_reader._tindex
        self._keycoder = terms_reader._keycoder
        self._hash = table.hashfn
        start = table.tables[0][0]
        slots = 0
        for position, count in table.tables:   # the 256 tables are written back to back
            if position != start + slots * _SLOT.itemsize:
                raise ValueError("unexpected hash table layout")
            slots += count
        raw = table.dbfile.get(start, slots * _SLOT.itemsize)
        entries = np.frombuffer(raw, dtype=_SLOT)
        hashes = entries["hash"][entries["position"] != 0].astype(np.uint64)
        self.keys = len(hashes)
        bits = max(MIN_BITS, 1 << int(self.keys * BITS_PER_KEY - 1).bit_length())
        self._mask = bits - 1
        bitmap = np.zeros(bits // 8, dtype=np.uint8)
        where = hashes & np.uint64(self._mask)
        np.bitwise_or.at(bitmap, (where >> np.uint64(3)).astype(np.intp),
                         np.left_shift(1, (where & np.uint64(7)).astype(np.uint8)).astype(np.uint8))
        self._bitmap = bitmap.tobytes()     # bytes indexing is the cheapest test from Python

    def may_have(self, fieldname: str, btext: bytes) -> bool:
        """False: the segment certainly has no such term. True: it may (ask its reader)."""
        h = self._hash(self._keycoder(fieldname, btext)) & self._mask
        return bool(self._bitmap[h >> 3] >> (h & 7) & 1)

    @property
    def bytes(self) -> int:
        return len(self._bitmap)
