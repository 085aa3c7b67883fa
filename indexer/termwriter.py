"""Whoosh's field writer, given a term's postings at once: the same segment files, less Python.

When a segment is flushed, whoosh3's FieldWriter.add_postings takes its sorted postings
(field, term, docnum, weight, value) one at a time: per posting, a call to the field writer,
one to its postings writer (type checks, a running maximum, the block's minimum and maximum
field length) and one to the field-length reader; per block of up to 128 postings, a dozen
method calls around the pickling and compression, and three writes. A 10k reindex writes 4.6
million postings of 209,000 terms. TermAtATimeFieldWriter groups the postings by field and
by term (groupby, in C), reads each field's lengths once per segment, and writes each term's
blocks as W3PostingsWriter._write_block and W3TermInfo.add_block would, in one write: the
same bytes (tests/test_termwriter.py compares every term's statistics and posting bytes).
Where indexer/csegment is built, each term is encoded in C (encode_term there, the same bytes
as encode_term_reference here, which stays the path without a compiler and the reference).

W3Codec.field_writer makes its writer from the module-level name
whoosh.codec.whoosh3.W3FieldWriter, so term_at_a_time_field_writer() swaps that name while a
writer runs (as postingpool.py does for the pool); writer processes forked meanwhile inherit it.
"""
import io
from array import array
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from pickle import dumps

from whoosh.codec import whoosh3
from whoosh.system import pack_int, pack_ushort
from whoosh.util.numeric import length_to_byte

from . import deflate
from .csegment import load_encoder

_FIELD, _TERM = itemgetter(0), itemgetter(1)
SPELLING_DOCNUM = -1     # Whoosh's marker for spelling-graph words: they are not postings


class TermAtATimeFieldWriter(whoosh3.W3FieldWriter):
    def _create_file(self, ext):
        # The postings and term files are asked their position once or twice per term
        dbfile = super()._create_file(ext)
        if isinstance(dbfile.file, io.BufferedWriter):
            dbfile.file = PositionKeepingFile(dbfile.file)
        return dbfile

    def add_postings(self, schema, lengths, items):
        codec = self._codec
        if codec._inlinelimit > 1:     # terms small enough to live in the term table: Whoosh's way
            return super().add_postings(schema, lengths, items)
        encode = load_encoder()
        for fieldname, postings in groupby(items, key=_FIELD):
            fieldobj = schema[fieldname]
            self.start_field(fieldname, fieldobj)
            field_lengths = _field_lengths(lengths, fieldname)
            fixed_size = fieldobj.format.fixed_value_size()
            if encode is None:
                for btext, term_postings in groupby(postings, key=_TERM):
                    term_postings = [p for p in term_postings if p[2] != SPELLING_DOCNUM]
                    if term_postings:
                        self._write_term(btext, term_postings, field_lengths, fixed_size)
            else:
                self._write_terms_in_c(encode, postings, field_lengths, fixed_size)
            self.finish_field()

    def _write_terms_in_c(self, encode, postings, field_lengths, fixed_size) -> None:
        """The field's terms, each encoded by indexer/csegment (the same bytes as _write_term);
        a term it leaves (NotImplemented) is written by _write_term."""
        postfile, add_term = self._postfile, self._tindex.add
        limit, level = self._codec._blocklimit, self._codec._compression
        lengths = None if isinstance(field_lengths, _NoLengths) else array("q", [n or 0 for n in field_lengths])
        size = -1 if fixed_size is None else fixed_size
        prefix = pack_ushort(self._fieldid)
        for btext, term_postings in groupby(postings, key=_TERM):
            term_postings = list(term_postings)
            done = encode(term_postings, lengths, size, limit, level, postfile.tell())
            if done is NotImplemented:
                term_postings = [p for p in term_postings if p[2] != SPELLING_DOCNUM]
                if term_postings:
                    self._write_term(btext, term_postings, field_lengths, fixed_size)
            elif done is not None:
                blob, info = done
                postfile.write(blob)
                add_term(prefix + btext, info)

    def _write_term(self, btext: bytes, postings: list[tuple], field_lengths, fixed_size) -> None:
        codec, postfile = self._codec, self._postfile
        blob, info = encode_term_reference(postings, field_lengths, fixed_size, codec._blocklimit,
                                           codec._compression, postfile.tell())
        postfile.write(blob)
        self._tindex.add(pack_ushort(self._fieldid) + btext, info)


def encode_term_reference(postings: list[tuple], field_lengths, fixed_size: int | None, limit: int,
                          level: int, offset: int) -> tuple[bytes, bytes]:
    """(the term's bytes in the postings file, its W3TermInfo bytes for them at offset), as
    W3PostingsWriter and W3TermInfo write them. postings: a term's (field, term, docnum, weight,
    value), docnum order, no spelling markers. indexer/csegment does the same in C."""
    info = whoosh3.W3TermInfo()
    chunks = [whoosh3.WHOOSH3_HEADER_MAGIC]
    for at in range(0, len(postings), limit):
        block = postings[at:at + limit] if len(postings) > limit else postings
        _, _, ids, block_weights, block_values = zip(*block)     # the block's columns, in C
        weights = array("f", block_weights)
        max_weight = max(0, max(block_weights))
        present = [n for n in map(field_lengths.__getitem__, ids) if n]
        min_length = min(present) if present else None
        max_length = max(present) if present else 0
        # W3TermInfo.add_block
        info._weight += sum(weights)
        info._df += len(ids)
        info._minlength = min_length if info._minlength is None else min(info._minlength, min_length)
        info._maxlength = max(info._maxlength, max_length)
        info._maxweight = max(info._maxweight, max_weight)
        if info._minid is None:
            info._minid = ids[0]
        info._maxid = ids[-1]
        # W3PostingsWriter._write_block: its _mini_ids, _mini_weights and _mini_values
        deltas = tuple([ids[0]] + [b - a for a, b in zip(ids, ids[1:])])
        first = weights[0]
        if weights.count(first) == len(weights):
            mini_weights = None if first == 1.0 else first
        else:
            mini_weights = tuple(weights)
        values = [v for v in block_values if v]
        if fixed_size is None or fixed_size < 0:
            mini_values = tuple(values)
        else:
            mini_values = None if fixed_size == 0 else b"".join(values)
        data = dumps((deltas, mini_weights, mini_values), 2)
        compression = level if len(data) >= whoosh3.COMPRESSION_MIN_SIZE else 0
        if compression:
            data = deflate.compress(data, compression)
        header = dumps((len(ids), ids[-1], max_weight, compression, length_to_byte(min_length),
                        length_to_byte(max_length)), 2)
        size = len(header) + len(data)
        chunks += [pack_int(-size if at + limit >= len(postings) else size), header, data]
    blob = b"".join(chunks)
    info.set_extent(offset, len(blob))
    return blob, info.to_bytes()


class PositionKeepingFile:
    """A file being written from start to end, answering tell() from the bytes written.

    BufferedWriter.tell() asks the OS (lseek) every time: 7% of a single-process reindex's
    py-spy samples on a VM (3% of its CPU time, measured), for the two tells per term here and
    two in the term table's writer.
    """

    __slots__ = ("_file", "_position")

    def __init__(self, file: io.BufferedWriter):
        self._file = file
        self._position = file.tell()

    def write(self, data) -> int:
        written = self._file.write(data)    # a BufferedWriter writes all, and says how many bytes
        self._position += written
        return written

    def tell(self) -> int:
        return self._position

    def seek(self, *args) -> int:
        self._position = self._file.seek(*args)
        return self._position

    def __getattr__(self, name):
        return getattr(self._file, name)


def _field_lengths(lengths, fieldname: str):
    """Every document's length in the field as FieldWriter.add_postings reads it (0 or None
    where there is none)."""
    if not lengths:
        return _NoLengths()
    get = lengths.doc_field_length_reader(fieldname)
    return [get(docnum) for docnum in range(lengths.doc_count_all())]


class _NoLengths:
    def __getitem__(self, docnum):
        return 0


@contextmanager
def term_at_a_time_field_writer():
    """Whoosh segment writers made inside this block use TermAtATimeFieldWriter."""
    original = whoosh3.W3FieldWriter
    whoosh3.W3FieldWriter = TermAtATimeFieldWriter
    try:
        yield
    finally:
        whoosh3.W3FieldWriter = original
