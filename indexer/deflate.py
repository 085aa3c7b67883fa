"""zlib-format compression for the index, through ISA-L (python-isal) when it is installed.

whoosh3 compresses each posting block of 80 bytes or more and each document's stored fields
with zlib at level 3. What is written is a zlib stream whatever made it, and readers only look
at the block header's compression flag, so another deflate implementation writes an index
every zlib reads, and reads every index zlib wrote. ISA-L's (Intel's, with AVX2/AVX-512 code
paths) compressed the 145,641 posting blocks and 10,000 stored documents of a 10k-article
index in 2.3 CPU-s against zlib's 6.3 (3-4% of the reindex's CPU), 4% larger; it decompresses
a stored document in 22 µs against 35 (BENCHMARKS.md, "The fixes").

    compress(data, level)       # whoosh's level is only a flag to it: ISA-L compresses at LEVEL
    decompress(data)            # any zlib stream
    decompressobj()             # .decompress(data, max_length) for a prefix

Without python-isal (a platform without its wheels), or with POLYSEARCH_DEFLATE=zlib, zlib does
all of it.
"""
import os
import zlib
from contextlib import contextmanager

from whoosh import columns
from whoosh.codec import whoosh3

try:
    from isal import isal_zlib as _isal
except ImportError:
    _isal = None
if os.environ.get("POLYSEARCH_DEFLATE", "").strip().lower() == "zlib":
    _isal = None

# ISA-L's levels are 0-3 (0 stores no match history): 1, 2 (its default) and 3 gave sizes within
# 1% of each other on our posting blocks and stored documents; 2 was as fast as 1 and 20-60%
# faster than 3.
LEVEL = 2

IMPLEMENTATION = "isal" if _isal is not None else "zlib"


if _isal is not None:
    def compress(data, level: int = LEVEL) -> bytes:
        """A zlib stream of data, at ISA-L's LEVEL (whoosh's level, 3, is only a flag to readers)."""
        return _isal.compress(data, LEVEL)

    decompress = _isal.decompress
    decompressobj = _isal.decompressobj
else:
    compress = zlib.compress
    decompress = zlib.decompress
    decompressobj = zlib.decompressobj


def _add_deflated(self, docnum, v) -> None:
    columns.VarBytesColumn.Writer.add(self, docnum, compress(v, self._level))


class _WhooshZlib:
    """What whoosh3's posting blocks use of its module-level zlib."""
    compress = staticmethod(compress)
    decompress = staticmethod(decompress)


@contextmanager
def whoosh_compressing_here():
    """Whoosh's writers inside this block compress through compress(): its compressed columns
    (each document's stored fields) and its own posting blocks (where the term writer of
    termwriter.py is not used); writer processes forked meanwhile inherit it."""
    original_add, original_zlib = columns.CompressedBytesColumn.Writer.add, whoosh3.zlib
    columns.CompressedBytesColumn.Writer.add = _add_deflated
    whoosh3.zlib = _WhooshZlib
    try:
        yield
    finally:
        columns.CompressedBytesColumn.Writer.add = original_add
        whoosh3.zlib = original_zlib
