"""Posting lists of a whoosh3 segment, decoded into numpy arrays, and a cache of the long ones.

whoosh3 stores a term's postings as blocks: a length, a pickled header, pickled (docnum
deltas, term frequencies, values) data, zlib-compressed when large. W3LeafMatcher reads each
block with separate small reads through the compound file; here the whole list is read in
one piece and parsed in memory. This reads whoosh3's format directly (whoosh3 is pinned to one
version): a list without the expected header is read through W3LeafMatcher, which raises
Whoosh's own error for a damaged index.
"""
import io
import pickle
import threading
from bisect import bisect_right
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3LeafMatcher, _lenfield
from whoosh.system import _INT_SIZE, unpack_int
from whoosh.util.numeric import byte_to_length

from . import deflate
from .segmentreads import region_of
from .termpresence import TermPresence

_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


class PostingCache:
    """Decoded long posting lists of one opened index (thread-safe), least recently used out,
    and each segment's TermPresence.

    Decoding is most of a query's cost, and most of it goes to the long lists of frequent
    words, which recur from query to query. Only lists of at least `min_postings` are kept,
    up to `max_bytes` (8 bytes per posting), so rare terms never push them out. The presence
    bitmaps (2 bytes per term) are built on a segment's first lookup and kept with the index.
    """

    def __init__(self, max_bytes: int = 64 << 20, min_postings: int = 1024):
        self.max_bytes = max_bytes
        self.min_postings = min_postings
        self._entries: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._presence: dict[str, TermPresence] = {}
        self._presence_lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def offer(self, key, doc_frequency: int, postings: list) -> None:
        count = sum(len(docnums) for _, docnums, _ in postings)
        size = 8 * count
        if count < self.min_postings or size > self.max_bytes:
            return
        compact = [(leaf, docnums.astype(np.int32), tfs.astype(np.float32)) for leaf, docnums, tfs in postings]
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = ((doc_frequency, compact), size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def presence(self, reader) -> TermPresence:
        """The TermPresence of a whoosh3 segment reader of this index."""
        key = reader.segment().segment_id()
        found = self._presence.get(key)
        if found is None:
            with self._presence_lock:       # one build per segment, however many threads ask
                found = self._presence.get(key)
                if found is None:
                    found = self._presence[key] = TermPresence(reader._terms)
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes


def read_postings(reader, fieldname: str, info, values: bool = False):
    """A term's (docnums, term frequencies) in one segment.

    The posting list is read in one piece and its blocks decoded in memory; W3LeafMatcher reads
    each block's length, header and data with separate small reads (at 100k articles those reads
    and their locking were a third of the decoding time)."""
    if info.is_inlined():
        ids, weights, vals = info.inlined_postings()
        found = np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float32).astype(np.float64)
        return (*found, list(vals)) if values else found
    raw = _posting_bytes(reader, info)
    if raw[:len(WHOOSH3_HEADER_MAGIC)] != WHOOSH3_HEADER_MAGIC:
        return _read_postings_by_matcher(reader, fieldname, info, values)   # Whoosh raises the clear error
    id_parts, tf_parts, value_parts = [], [], []
    decode = None if values else block_decoder()
    for count, _, compression, data in _blocks(raw):
        found = _docnums_and_weights(decode, data, count, compression) if decode else None
        if found is not None:
            id_parts.append(np.frombuffer(found[0], dtype=np.int64))
            tf_parts.append(_weights(found[1], count))
        else:
            deltas, weights, block_values = pickle.loads(deflate.decompress(data) if compression else data)
            id_parts.append(np.cumsum(np.asarray(deltas, dtype=np.int64)))
            tf_parts.append(_weights(weights, count))
            if values:
                value_parts.extend(block_values)
    found = (id_parts[0], tf_parts[0]) if len(id_parts) == 1 else \
        (np.concatenate(id_parts), np.concatenate(tf_parts))
    return (*found, value_parts) if values else found


def read_values(reader, fieldname: str, info, wanted: np.ndarray) -> list:
    """The stored values (a phrase's encoded positions) of a term's postings in the documents
    `wanted` (sorted docnums, every one of them in the term's list), in that order.

    Only the blocks holding those documents are decompressed and read: each block's header
    gives its last docnum. A phrase whose rare word leaves a few documents in common
    with a frequent one ("mát xcơ va", "va" in most Vietnamese articles) so decodes a few of
    the frequent word's blocks instead of all of them, and of their positions."""
    if not len(wanted):
        return []
    if not info.is_inlined():
        raw = _posting_bytes(reader, info)
        if raw[:len(WHOOSH3_HEADER_MAGIC)] == WHOOSH3_HEADER_MAGIC:
            found = _values_of_blocks(raw, wanted)
            if found is not None:
                return found
    docnums, _, values = read_postings(reader, fieldname, info, values=True)
    at = _indexes_of(docnums, wanted)
    if at is None:
        raise KeyError(f"{fieldname}: a document asked for is not in the term's postings")
    return [values[i] for i in at]


def _values_of_blocks(raw: bytes, wanted: np.ndarray) -> list | None:
    """read_values over a whoosh3 posting list read in one piece; None if a wanted document is
    not where the block headers say (the caller reads the whole list instead)."""
    decode = block_decoder()
    wanted = np.ascontiguousarray(wanted, dtype=np.int64)
    wanted_list = wanted.tolist()
    out: list = []
    j, n = 0, len(wanted_list)
    for count, last_id, compression, data in _blocks(raw):
        if j == n:
            break
        if wanted_list[j] <= last_id:
            k = bisect_right(wanted_list, last_id, j)
            data = deflate.decompress(data) if compression else data
            found = decode(data, count, wanted[j:k]) if decode else None   # by docnum, in C
            if found is not None:
                out.extend(found[2])
            else:
                deltas, _, block_values = pickle.loads(data)
                at = _indexes_of(np.cumsum(np.asarray(deltas, dtype=np.int64)), wanted[j:k])
                if at is None:
                    return None
                out.extend(block_values[i] for i in at)
            j = k
    return out if j == n else None


def _indexes_of(docnums: np.ndarray, wanted: np.ndarray) -> list[int] | None:
    """Where each of the sorted docnums `wanted` is in the sorted `docnums`; None if one is not."""
    at = np.searchsorted(docnums, wanted)
    if np.any(at >= len(docnums)) or np.any(docnums[np.minimum(at, len(docnums) - 1)] != wanted):
        return None
    return at.tolist()


def _posting_bytes(reader, info) -> bytes:
    """A term's posting list in a segment, read in one piece (by position: segmentreads)."""
    offset, length = info.extent()
    if isinstance(length, tuple):     # W3TermInfo.from_bytes keeps struct.unpack's 1-tuple
        length = length[0]
    postfile = reader._terms._postfile
    region = region_of(postfile)
    return region.get(offset, length) if region is not None else postfile.get(offset, length)


def _blocks(raw: bytes):
    """(postings, last docnum, compression, data) of each block of a whoosh3 posting list read
    in one piece (after its magic): a signed length (negative for the last block), a pickled
    header, the data."""
    stream = io.BytesIO(raw)
    pos = len(WHOOSH3_HEADER_MAGIC)
    while True:
        (block_length,) = unpack_int(raw[pos:pos + _INT_SIZE])
        block_end = pos + _INT_SIZE + abs(block_length)
        stream.seek(pos + _INT_SIZE)
        count, last_id, _, compression, _, _ = pickle.load(stream)       # the block's header
        yield count, last_id, compression, memoryview(raw)[stream.tell():block_end]
        if block_length < 0:
            return
        pos = block_end


def _weights(weights, count: int) -> np.ndarray:
    """A block's term frequencies as W3LeafMatcher._read_weights gives them, as float64
    (weights: the block's, or decode_block's bytearray of float64)."""
    if weights is None:
        return np.ones(count)
    if isinstance(weights, float):           # one weight for the block, stored as a float32
        return np.full(count, float(np.float32(weights)))
    if isinstance(weights, bytearray):
        weights = np.frombuffer(weights, dtype=np.float64)
    return np.asarray(weights, dtype=np.float32).astype(np.float64)


# How much of a compressed block is inflated for its docnums and weights alone: a delta is at
# most 5 bytes pickled (BININT), a weight 9 (BINFLOAT); the tuples' opcodes and memo entries
# fit in the rest.
_PREFIX_PER_POSTING, _PREFIX_EXTRA = 14, 64


# csegment's reading functions by name, looked up once: None where it is not built
_COMPILED: dict[str, object] = {}


def _compiled(name: str):
    if name not in _COMPILED:
        from .csegment import load

        _COMPILED[name] = getattr(load(), name, None)
    return _COMPILED[name]


def block_decoder():
    """csegment's decode_block (block_read.c), or None where it is not built: then every block
    is unpickled."""
    return _compiled("decode_block")


def consecutive_checker():
    """csegment's consecutive_docs (phrase.c), or None where it is not built."""
    return _compiled("consecutive_docs")


def range_counter():
    """csegment's count_ranges (range_counts.c), or None where it is not built."""
    return _compiled("count_ranges")


def _docnums_and_weights(decode, data, count: int, compression: int):
    """decode_block's (docnums, weights, None) for a block's data, None where it does not read
    it. A compressed block is inflated only as far as its docnums and weights reach: they come
    before the values, which are most of a text field's block (positions)."""
    if compression:
        if count > 3:
            head = deflate.decompressobj().decompress(data, _PREFIX_PER_POSTING * count + _PREFIX_EXTRA)
            found = decode(head, count, None)
            if found is not None:
                return found
        data = deflate.decompress(data)
    return decode(data, count, None)


def _read_postings_by_matcher(reader, fieldname: str, info, values: bool = False):
    offset, length = info.extent()
    m = W3LeafMatcher(reader._terms._postfile, offset, length, reader.schema[fieldname].format)
    id_parts, tf_parts, value_parts = [], [], []
    while True:
        m._read_data()
        id_parts.append(np.cumsum(np.asarray(m._data[0], dtype=np.int64)))
        tf_parts.append(_weights(m._data[1], len(m._data[0])))
        if values:
            m._read_values()
            value_parts.extend(m._values)
        if m._lastblock:
            break
        m._goto(m._nextoffset)
    found = np.concatenate(id_parts), np.concatenate(tf_parts)
    return (*found, value_parts) if values else found


def field_lengths(reader, fieldname: str, docnums: np.ndarray) -> np.ndarray:
    """The lengths BM25 reads for these documents (see fieldlengths.install_lengths)."""
    column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if column is None:                       # no length column: Whoosh's default of 1
        return np.ones(len(docnums))
    if isinstance(column, bytes):
        return _LENGTH_OF_BYTE[np.frombuffer(column, dtype=np.uint8)[docnums]]
    return _LENGTH_OF_BYTE[np.fromiter((column[d] for d in docnums.tolist()), dtype=np.uint8,
                                       count=len(docnums))]
