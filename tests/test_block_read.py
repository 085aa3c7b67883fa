"""The C reader of whoosh3 posting blocks (indexer/csegment/block_read.c) gives what
pickle.loads and Whoosh's de-minifying give, from whole blocks and from prefixes of them, and
declines (None) what it does not read; the posting lists and phrases read with it are the same
as without it."""
import pickle
import random
import zlib

import numpy as np
import pytest
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC

from benchmarks import corpus_gen
from indexer import postings
from indexer.build import build_index
from indexer.engine import SearchEngine
from indexer.termwriter import _NoLengths, encode_term_reference


@pytest.fixture(scope="module")
def decode(csegment_module):
    return csegment_module.decode_block


def expected(data: bytes, count: int, wanted):
    """What the engine takes from a block: docnums, weights as stored, the wanted values."""
    deltas, weights, values = pickle.loads(data)
    docnums = np.cumsum(np.asarray(deltas, dtype=np.int64))
    if wanted is None:
        picked = None
    elif values is None:
        picked = [None] * len(wanted)
    elif isinstance(values, bytes):                  # a fixed size: the values joined
        size = len(values) // count
        picked = [values[i * size:(i + 1) * size] for i in wanted]
    else:
        picked = [values[i] for i in wanted]
    return docnums, weights, picked


def same(found, want) -> bool:
    docnums, weights, values = found
    want_docnums, want_weights, want_values = want
    if not np.array_equal(np.frombuffer(docnums, dtype=np.int64), want_docnums):
        return False
    if isinstance(weights, bytearray):
        if not np.array_equal(np.frombuffer(weights), np.asarray(want_weights, dtype=np.float64)):
            return False
    elif weights != want_weights:
        return False
    return values == want_values


def blocks_of(blob: bytes):
    """(count, data decompressed) of each block of a term's posting bytes."""
    assert blob[:4] == WHOOSH3_HEADER_MAGIC
    for count, _, compression, data in postings._blocks(blob):
        yield count, zlib.decompress(data) if compression else bytes(data)


def written_blocks(rng, n_postings: int, weights: str, values: str, fixed=None):
    """Blocks as the segment writer writes them (the Python reference), of every shape."""
    docnums = sorted(rng.sample(range(3 * n_postings + 2 ** rng.randint(0, 30)), n_postings))
    shared = bytes([0x80, 0xff, 7])
    pick_weight = {"ones": lambda: 1.0, "same": lambda: 2.5, "varied": lambda: rng.choice([1.0, 2.0, 0.75, 13.0])}[weights]
    pick_value = {
        "positions": lambda: postings_value(rng),
        "shared": lambda: shared,                                     # one object: BINGETs
        "mixed": lambda: rng.choice([shared, bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))]),
        "none": lambda: None,
        "fixed": lambda: bytes(rng.randrange(256) for _ in range(fixed)),
    }[values]
    rows = [("f", b"t", d, pick_weight(), pick_value()) for d in docnums]
    blob, _ = encode_term_reference(rows, array_of_lengths(docnums), fixed, 128, 3, 0)
    return list(blocks_of(blob))


def postings_value(rng) -> bytes:
    from indexer.positions import encode_positions

    start = rng.randrange(70_000)
    many = rng.random() < 0.02           # a word all over a long article: batches of APPENDS
    return encode_positions(sorted({start + rng.randrange(5_000) for _ in range(rng.randint(1, 1_200 if many else 12))}))


def array_of_lengths(docnums):
    """Field lengths for the writer: none kept (docnums reach 2**30 here)."""
    return _NoLengths()


def test_it_reads_every_shape_of_block_the_writer_writes(decode):
    rng = random.Random(3)
    checked = 0
    for n in (1, 2, 3, 4, 5, 127, 128, 129, 300, 700):
        for weights in ("ones", "same", "varied"):
            for values, fixed in (("positions", None), ("shared", None), ("mixed", None), ("none", 0),
                                  ("fixed", 4)):
                for count, data in written_blocks(rng, n, weights, values, fixed):
                    wanted = sorted(rng.sample(range(count), rng.randint(0, count)))
                    assert same(decode(data, count, wanted), expected(data, count, wanted)), (n, weights, values)
                    docnums = expected(data, count, None)[0]                    # the same, by docnum
                    assert same(decode(data, count, docnums[wanted]), expected(data, count, wanted))
                    absent = np.append(docnums[wanted], docnums[-1] + 1)     # one past the block
                    assert decode(data, count, absent) is None
                    docnums, found_weights, none = decode(data, count, None)
                    assert none is None and same((docnums, found_weights, None), expected(data, count, None))
                    checked += 1
    assert checked >= 150


def test_docnums_and_weights_come_from_a_prefix_of_a_long_block(decode):
    rng = random.Random(5)
    for weights in ("ones", "same", "varied"):
        for count, data in written_blocks(rng, 128, weights, "positions"):
            cut = postings._PREFIX_PER_POSTING * count + postings._PREFIX_EXTRA
            assert len(data) > 4 * cut                    # the values are most of the block
            assert same(decode(data[:cut], count, None), expected(data, count, None))
            assert decode(data[:cut], count, [0]) is None  # values need the whole block


def test_what_it_does_not_read_is_declined_not_guessed(decode):
    rng = random.Random(7)
    count, data = written_blocks(rng, 40, "varied", "positions")[0]
    for cut in range(0, len(data) - 1, 7):              # truncated anywhere: None, never a crash
        assert decode(data[:cut], count, [0]) is None
    assert decode(data, count + 1, None) is None         # the header's count disagrees
    other = [
        pickle.dumps(([1, 2], None, (b"a", b"b")), 2),   # a list: not what whoosh3 writes
        pickle.dumps(((1, 2), "x", (b"a", b"b")), 2),    # weights that are text
        pickle.dumps(((1, 2), None, (1, 2)), 2),         # values that are not bytes
        pickle.dumps(((1, 2), None, (b"a", b"b")), 4),   # another protocol's opcodes
        pickle.dumps(((1, 2), None, (bytearray(b"a"), b"b")), 2),
        b"\x80\x02cos\nsystem\nq\x00.",                  # a global other than the two it knows
    ]
    for data in other:
        assert decode(data, 2, [0, 1]) is None
    for _ in range(2_000):                               # damaged bytes: None or an answer, no crash
        damaged = bytearray(written_blocks(rng, 6, "varied", "mixed")[0][1])
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        decode(bytes(damaged), 6, [0, 5])
    with pytest.raises(IndexError):
        decode(written_blocks(rng, 6, "ones", "mixed")[0][1], 6, [6])


def test_a_block_whose_values_do_not_line_up_with_its_postings_gives_no_values(decode):
    """Whoosh's writer leaves empty values out of a block's tuple (`if vbytes:`), so a value's
    index is no longer its posting's: such a block's values are declined, its docnums read."""
    rows = [("f", b"t", d, 1.0, b"" if d % 3 == 0 else b"\x01") for d in range(10)]
    blob, _ = encode_term_reference(rows, array_of_lengths(range(10)), None, 128, 0, 0)
    [(count, data)] = blocks_of(blob)
    assert len(pickle.loads(data)[2]) < count
    assert decode(data, count, [1]) is None
    assert same(decode(data, count, None), expected(data, count, None))
    empties = pickle.dumps(((1, 2), None, (b"", b"x")), 2)     # b"" pickled as bytes(), reduced
    assert same(decode(empties, 2, [0, 1]), expected(empties, 2, [0, 1]))


def test_large_and_negative_ints_and_a_memo_past_256_entries(decode):
    deltas = (2 ** 31 - 1, 255, 256, 65535, 65536, 0)
    data = pickle.dumps((deltas, (1.5, 2.0, 1.0, 3.0, 1.0, 1.0), tuple(bytes([i % 256, 200]) for i in range(6))), 2)
    assert same(decode(data, 6, [0, 5]), expected(data, 6, [0, 5]))
    longs = pickle.dumps(((2 ** 40, -3, -(2 ** 40)), None, None), 2)       # LONG1, BININT negatives
    assert same(decode(longs, 3, [1]), expected(longs, 3, [1]))
    many = tuple(bytes([128 + i % 100, i % 7]) for i in range(300))         # LONG_BINPUT / LONG_BINGET
    data = pickle.dumps((tuple(range(300)), None, many + many[:20]), 2)
    assert decode(data, 320, None) is None                                  # 300 ids, 320 postings
    data = pickle.dumps((tuple(range(320)), None, many + many[:20]), 2)
    assert same(decode(data, 320, list(range(0, 320, 3))), expected(data, 320, list(range(0, 320, 3))))


@pytest.fixture(scope="module")
def generated_engine(tmp_path_factory):
    corpus = corpus_gen.generate(900, tmp_path_factory.mktemp("gen-corpus"), seed=23, procs=1)
    index_dir = tmp_path_factory.mktemp("gen-index")
    build_index(corpus, index_dir, rebuild=True, procs=1, vectors=False)
    return SearchEngine(index_dir)


def test_an_index_reads_the_same_with_and_without_it(generated_engine, decode, monkeypatch):
    """Every term's list in a real index (one segment: several blocks for the frequent words)
    and the values of sampled documents, with the compiled reader and without."""
    reader = generated_engine.generation.searcher().reader()
    rng = random.Random(11)
    by_field: dict[str, list[bytes]] = {}
    for fieldname, text in reader.all_terms():
        by_field.setdefault(fieldname, []).append(text)
    read = []
    for fieldname, texts in sorted(by_field.items()):
        for text in rng.sample(texts, min(len(texts), 150)):
            read.append((fieldname, text, reader._terms.term_info(fieldname, text)))
    assert sum(info.doc_frequency() > 128 for _, _, info in read) >= 20      # lists of several blocks

    def everything():
        out = []
        for fieldname, text, info in read:
            docnums, weights = postings.read_postings(reader, fieldname, info)
            wanted = np.array(sorted(rng.sample(docnums.tolist(), min(len(docnums), 5))), dtype=np.int64)
            values = postings.read_values(reader, fieldname, info, wanted) \
                if reader.schema[fieldname].format.supports("positions") else None
            out.append((docnums.tolist(), weights.tolist(), wanted.tolist(), values))
        return out

    monkeypatch.setitem(postings._COMPILED, "decode_block", decode)
    rng.seed(1)
    compiled = everything()
    monkeypatch.setitem(postings._COMPILED, "decode_block", None)
    assert postings.block_decoder() is None
    rng.seed(1)
    assert everything() == compiled


def test_phrases_match_the_same_documents_with_and_without_it(generated_engine, decode, csegment_module, monkeypatch):
    """Phrases of frequent syllables (the entity names' Vietnamese spellings) and of words cut
    out of the articles, through the whole search, compiled and not (the blocks' reader, and
    the check of the words' positions: phrase.c)."""
    searcher = generated_engine.generation.searcher()
    texts = ['"mát xcơ va"', '"ma lai xi a"', "莫斯科", "Malaysia", "希腊"]
    for docnum in list(searcher.reader().all_doc_ids())[:200:20]:
        words = searcher.stored_fields(docnum)["body"].split()
        if len(words) > 30:
            texts.append(f'"{" ".join(words[10:13])}"')
    engine = generated_engine
    engine.cache.enabled = False

    def pages():
        from indexer.results import SearchRequest

        engine.generation.postings.clear()
        return [[(r.id, round(r.score, 9)) for r in engine.search(SearchRequest(query=t, size=50, mode="lexical")).results]
                for t in texts]

    monkeypatch.setitem(postings._COMPILED, "decode_block", decode)
    monkeypatch.setitem(postings._COMPILED, "consecutive_docs", csegment_module.consecutive_docs)
    compiled = pages()
    assert sum(bool(p) for p in compiled) >= 8
    monkeypatch.setitem(postings._COMPILED, "decode_block", None)
    assert pages() == compiled
    monkeypatch.setitem(postings._COMPILED, "consecutive_docs", None)     # positions compared in Python too
    assert postings.consecutive_checker() is None
    assert pages() == compiled
