"""Where the words of a Thai or Chinese body are, kept from indexing for its snippets.

A snippet marks the query's terms where the body's own analysis finds them. For a space-
delimited language a few dozen characters around a likely place are analyzed again cheaply;
for Thai and Chinese that means running newmm or jieba at search time: 0.4-0.5 ms per hit, half
of a 100k search page's snippet time (BENCHMARKS.md). The indexer runs them over the whole body
anyway, so the body fields of SEGMENTED_LANGUAGES record each indexed token's (start, end) in
the body as they are made (WordSpanPositions, the same postings as TermPositions), and the
document's stored fields keep them as BODY_SPANS (encode_spans: ~2 bytes per word). Snippets
then look the words up (indexer/snippets.py), and they are the whole body's words, not a
window's.

Whoosh's per-document writer takes each field's stored value right after the field is indexed;
storing_word_spans() swaps in one that also stores the spans the field's format recorded, as
postingpool.py and termwriter.py swap their classes.
"""
from contextlib import contextmanager

import numpy as np
from whoosh.codec import whoosh3

from .positions import TermPositions

SEGMENTED_LANGUAGES = ("th", "zh")   # their body fields record word spans
BODY_SPANS = "body_spans"            # the stored field that keeps them
_NARROW, _WIDE = 1, 2                # first byte: uint8 or uint32 (delta, length) pairs


def encode_spans(starts, ends) -> bytes:
    """Spans (starts[i], ends[i]) as bytes, sorted: each start's distance from the previous
    start and its length, one byte each when all fit (Thai and Chinese words nearly always
    do), else 4."""
    if not len(starts):
        return bytes([_NARROW])
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    order = np.lexsort((ends, starts))
    starts, ends = starts[order], ends[order]
    values = np.empty(2 * len(starts), dtype=np.int64)
    values[0::2] = np.diff(starts, prepend=0)
    values[1::2] = ends - starts
    if values.max() < 256:
        return bytes([_NARROW]) + values.astype(np.uint8).tobytes()
    return bytes([_WIDE]) + values.astype("<u4").tobytes()


def decode_spans(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of encode_spans' spans, starts ascending."""
    if not data:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    dtype = np.uint8 if data[0] == _NARROW else np.dtype("<u4")
    values = np.frombuffer(data, dtype=dtype, offset=1).astype(np.int64)
    starts = np.cumsum(values[0::2])
    return starts, starts + values[1::2]


class WordSpanPositions(TermPositions):
    """TermPositions that also records where each indexed token is (take_spans() collects them
    once the field's postings have been read)."""

    def word_values(self, value, analyzer, **kwargs):
        if isinstance(value, (tuple, list)):     # pre-split tokens have no place in a body
            _RECORDED.pop(id(self), None)
            return super().word_values(value, analyzer, **kwargs)
        starts, ends = [], []
        _RECORDED[id(self)] = (starts, ends)
        return self._postings(value, analyzer, starts, ends, **kwargs)

    def pool_postings(self, value: str, analyzer, add_field, fieldname: str, docnum: int, fieldboost,
                      starts=None, ends=None) -> int:
        starts, ends = [], []
        _RECORDED[id(self)] = (starts, ends)
        return super().pool_postings(value, analyzer, add_field, fieldname, docnum, fieldboost, starts, ends)

    def take_spans(self) -> bytes | None:
        """The encoded spans of the last value indexed, once (None if there are none)."""
        spans = _RECORDED.pop(id(self), None)
        return encode_spans(*spans) if spans is not None else None


# Spans recorded and not yet taken, by format: kept off the format object, which is pickled into
# the index's schema and compared with other formats. A writer indexes one document at a time.
_RECORDED: dict[int, tuple[list, list]] = {}


class SpanStoringPerDocWriter(whoosh3.W3PerDocWriter):
    def add_field(self, fieldname, fieldobj, value, length):
        super().add_field(fieldname, fieldobj, value, length)
        take = getattr(fieldobj.format, "take_spans", None)
        if take is not None:
            spans = take()
            if spans is not None:
                self._storedfields[BODY_SPANS] = spans


@contextmanager
def storing_word_spans():
    """Whoosh segment writers made inside this block store the recorded word spans."""
    original = whoosh3.W3PerDocWriter
    whoosh3.W3PerDocWriter = SpanStoringPerDocWriter
    try:
        yield
    finally:
        whoosh3.W3PerDocWriter = original
