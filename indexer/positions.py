"""Whoosh's Positions posting format, its postings made with less Python per token.

Indexing a document turns each field's tokens into postings (term, frequency, weight, encoded
positions) in Positions.word_values: two defaultdict updates and a generator step per token,
then a loop and a pickle per term for the position deltas. That was 8% of a 100k reindex's CPU
(py-spy at d8fca4b), beside the analysis itself. Here a term's first position starts its list
and its weight (most terms of an article occur once), and a term found once, at a position
seen before, reuses that encoding. The bytes are Whoosh's (tests/test_positions.py), and
reading is Whoosh's: only the writing side is replaced.
"""
from pickle import dumps

from whoosh import formats
from whoosh.analysis import entoken
from whoosh.system import pack_uint

_ONCE: dict[int, bytes] = {}     # position -> the encoding of a term found only there
_ONCE_MAX = 1 << 16              # positions past this are encoded each time


def encode_positions(positions: list[int]) -> bytes:
    """What Positions.encode makes: the count, then the pickled deltas (protocol 2)."""
    if len(positions) == 1:
        pos = positions[0]
        code = _ONCE.get(pos)
        if code is None:
            code = pack_uint(1) + dumps([pos], 2)
            if 0 <= pos < _ONCE_MAX:
                _ONCE[pos] = code
        return code
    deltas = [positions[0]]
    deltas += [b - a for a, b in zip(positions, positions[1:])]
    return pack_uint(len(deltas)) + dumps(deltas, 2)


class TermPositions(formats.Positions):
    def word_values(self, value, analyzer, **kwargs):
        return self._postings(value, analyzer, None, None, **kwargs)

    def pool_postings(self, value: str, analyzer, add_field, fieldname: str, docnum: int, fieldboost,
                      starts: list | None = None, ends: list | None = None) -> int:
        """What word_values, FieldType.index and Whoosh's add_document do with a string value,
        done by add_field (CompiledPostingPool's, in C: indexer/docwriter.py): the postings go
        to the pool; returns the sum of their frequencies (the field's length)."""
        kwargs = {"mode": "index", "positions": True, "boosts": True}
        if starts is not None:
            kwargs["chars"] = True
        return add_field(fieldname, docnum, analyzer(value, **kwargs), self.field_boost, fieldboost,
                         _ONCE, _ONCE_MAX, encode_positions, starts, ends)

    def _postings(self, value, analyzer, starts: list | None, ends: list | None, **kwargs):
        """word_values; with starts and ends lists (for a string value: WordSpanPositions never
        passes them with a token list), each indexed token's character span is appended to them
        (indexer/wordspans.py)."""
        kwargs["positions"] = True
        kwargs["boosts"] = True
        if isinstance(value, (tuple, list)):
            stream = entoken(value, **kwargs)
        else:
            if starts is not None:
                kwargs["chars"] = True
            stream = analyzer(value, **kwargs)
        positions: dict[str, list[int]] = {}
        weights: dict[str, float] = {}
        for t in stream:
            if t.stopped:
                continue
            if starts is not None:
                starts.append(t.startchar)
                ends.append(t.endchar)
            text = t.text
            found = positions.get(text)
            if found is None:
                positions[text] = [t.pos]
                weights[text] = 0.0 + t.boost     # as Whoosh's defaultdict(float) sums
            else:
                found.append(t.pos)
                weights[text] += t.boost
        boost = self.field_boost
        for text, found in positions.items():
            yield text, len(found), weights[text] * boost, encode_positions(found)
