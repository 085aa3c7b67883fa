"""The compiled check of a phrase's positions (indexer/csegment/phrase.c) answers what
arrayscore._consecutive answers from Whoosh's decode_positions, and declines (None) values it
does not read."""
import pickle
import random

import pytest

from indexer.arrayscore import _consecutive, _consecutive_docs
from indexer.positions import TermPositions


@pytest.fixture(scope="module")
def consecutive_docs(csegment_module):
    return csegment_module.consecutive_docs


FORMAT = TermPositions()


def encoded(positions: list[int], cut_stop: bool) -> bytes:
    value = FORMAT.encode(positions)
    return value[:-1] if cut_stop else value       # a block may store it without pickle's STOP


def expected(words: list[list[bytes]]) -> bytes:
    return bytes(_consecutive(FORMAT, [word[i] for word in words]) for i in range(len(words[0])))


@pytest.mark.parametrize("nwords", [1, 2, 3, 6])
def test_it_finds_the_documents_python_finds(consecutive_docs, nwords):
    rng = random.Random(nwords)
    for spread in (4, 300, 70_000, 2**30):           # deltas as BININT1, BININT2, BININT
        words = [[] for _ in range(nwords)]
        for _ in range(200):
            # some documents have the phrase, some its words apart, some over 1,000 positions
            # (the pickler's batches of 1,000 appends)
            base = sorted(rng.sample(range(spread), min(spread, rng.choice([1, 2, 7, 1500]))))
            for k, word in enumerate(words):
                if rng.random() < 0.6:
                    positions = [p + k for p in base if rng.random() < 0.9]
                else:
                    positions = sorted(rng.sample(range(spread), min(spread, rng.randint(1, 5))))
                word.append(encoded(positions or [spread + k], rng.random() < 0.5))
        got = consecutive_docs(words)
        assert bytes(got) == expected(words)
        assert 0 < sum(got) < len(got) or nwords == 1


def test_repeated_positions_and_a_word_twice(consecutive_docs):
    # "the cat the": word 0 and word 2 are the same term, with the same positions' values
    the, cat = encoded([0, 2, 7], False), encoded([1, 5], True)
    words = [[the, cat], [cat, the], [the, the]]
    assert bytes(consecutive_docs(words)) == expected(words) == b"\x01\x00"
    same = encoded([3, 3, 4], False)                # deltas of 0
    assert bytes(consecutive_docs([[same], [same]])) == expected([[same], [same]]) == b"\x01"


@pytest.mark.parametrize("odd", [
    [],                                             # no words
    [[b"\x00"]],                                    # shorter than any value
    [["text"]],                                     # not bytes
    [[encoded([1, 2], False)], []],                 # lists of different lengths
    [[b"\x00\x00\x00\x05" + encoded([1, 2], False)[4:]]],   # a count that is not the list's
    [[encoded([1, 2], False)[:-3]]],                # cut inside the list
    [[encoded([], False)[:8]]],                     # cut inside the list's memo entry
    [[encoded([4], False) + b"K"]],                 # something after STOP
    [[b"\x00\x00\x00\x01" + pickle.dumps([1], 4)]],  # another protocol
    [[b"\x00\x00\x00\x01" + pickle.dumps([1.5], 2)]],   # not ints
    [[b"\x00\x00\x00\x02" + pickle.dumps([5, -2], 2)]],  # a negative delta: unsorted positions
    [[b"\x00\x00\x00\x01" + pickle.dumps([2**31], 2)]],  # past BININT (LONG1)
])
def test_what_it_does_not_read_is_declined(consecutive_docs, odd):
    assert consecutive_docs(odd) is None


def test_the_engine_falls_back_to_python_for_what_is_declined():
    damaged = [[encoded([1], False), b"\x00\x00\x00\x02" + pickle.dumps([5, -2], 2)], [encoded([2], False)] * 2]
    assert _consecutive_docs(FORMAT, damaged) == [i for i in range(2) if _consecutive(FORMAT, [w[i] for w in damaged])]
