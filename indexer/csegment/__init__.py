"""The hot parts of Whoosh's segment writer in C (the posting pool and a term's posting
blocks), and of its posting reader (a block's docnums, weights and some values).

    module = load()                # None without the build (python -m indexer.csegment)
    module.PostingBuffer(limit, posting_bytes, fieldnames, on_full)
        # a segment's postings grouped by term as added, spilled as runs, merged in Whoosh's
        # order: postingpool.CompiledPostingPool (posting_pool.c says how); its add_field
        # pools a positional field's postings straight from the tokens (docwriter.py)
    module.encode_term(postings, lengths, fixed_size, limit, level, offset)
        -> (blob, terminfo)        # what termwriter.encode_term_reference returns, same bytes
        -> None                    # every posting was a spelling marker
        -> NotImplemented          # outside what the C code handles: use the reference

    module.decode_block(data, count, wanted)
        -> (docnums, weights, values) | None   # a posting block read (block_read.c says how)
    module.count_ranges(starts, values, docs, out)   # a facet's counts over some documents

encode_term's lengths: the field's length per docnum as array("q") (0: none), or None (the
field keeps no lengths). In Python, pooling a posting (add, spill, merge) cost ~2.5 µs and
writing it to the segment ~3.5 µs: together about a quarter of a reindex's CPU. It is one
CPython extension module (csegment.c includes the three parts), built at install time for the
running interpreter (its ABI is in the build key) and checked against the Python code before
it is installed. Without a compiler, Python's headers, or with POLYSEARCH_CSEGMENT=off,
ChunkedPostingPool, the Python term writer and pickle.loads do the same work.
"""
from pathlib import Path

from analyzers.cachedir import cache_dir
from analyzers.cbuild import (BuildError, build_checked, build_key, extension_abi, find_compiler, load_extension,
                              load_once, python_include, switched_off)

SOURCE_DIR = Path(__file__).parent
SOURCES = ("csegment.c", "term_blocks.c", "posting_pool.c", "block_read.c", "phrase.c", "range_counts.c")     # csegment.c includes the others
CFLAGS = ["-O2", "-fPIC", "-fno-fast-math"]      # exact float sums, as Python's
LDFLAGS = ["-shared"]
MODULE = "csegment"


def disabled() -> bool:
    return switched_off("POLYSEARCH_CSEGMENT")


def library_dir() -> Path:
    return Path(cache_dir()) / "csegment"


def _key() -> str:
    sources = [(SOURCE_DIR / name).read_text(encoding="utf-8") for name in SOURCES]
    return build_key(*sources, " ".join(CFLAGS), " ".join(LDFLAGS), extension_abi())


def library_path(directory: Path | None = None) -> Path:
    return (directory or library_dir()) / f"csegment-{_key()}.so"


def load_module(path: Path):
    """The extension module at path, its length table set from Whoosh's."""
    from whoosh.util.numeric import _length_byte_cache

    module = load_extension(MODULE, path)
    module.set_length_table(list(_length_byte_cache))
    return module


_modules: dict[tuple[str, Path | None], object] = {}


def load(directory: Path | None = None):
    """The extension module built for this source and interpreter, or None (not built,
    disabled, or not loadable here). Looked up once per process and cache directory."""
    if disabled():
        return None
    return load_once(_modules, directory, library_path, load_module, errors=(ImportError, OSError, AttributeError))


def load_encoder(directory: Path | None = None):
    """encode_term of the built module, or None."""
    module = load(directory)
    return None if module is None else module.encode_term


# The check: terms of every shape the writer meets (one posting, many blocks, repeated value
# objects, None and empty values, fixed-size values, equal and varied weights, documents
# without a length, ids up to 2**31 - 1, values with bytes >= 0x80, a memo past 256 entries),
# each compared byte for byte with the Python reference; and what must be left to it.
_CHECK_SCRIPT = r"""
import random, sys
from array import array
from indexer.csegment import load_module
from indexer.termwriter import encode_term_reference, _NoLengths
encode = load_module(sys.argv[1]).encode_term
rng = random.Random(7)
shared = [bytes(rng.randrange(256) for _ in range(rng.randint(1, 9))) for _ in range(20)]
WEIGHTS = {"one": lambda: 1.0, "same": lambda: 2.5, "int": lambda: float(rng.randint(1, 9)),
           "any": lambda: rng.random() * 10 ** rng.randint(-3, 6)}
def value(kind, fixed):
    if fixed > 0:
        return bytes(rng.randrange(256) for _ in range(fixed))
    if kind == "shared":
        return rng.choice(shared)
    if kind == "mixed":
        return rng.choice([None, b"", rng.choice(shared), bytes(rng.randrange(256) for _ in range(30))])
    return b""
def same(postings, lengths, fixed, limit, level):
    offset = rng.randrange(2**40)
    ref_lengths = _NoLengths() if lengths is None else lengths
    try:
        want = encode_term_reference(postings, ref_lengths, None if fixed < 0 else fixed, limit, level, offset)
    except Exception as exc:
        want = type(exc)
    got = encode(postings, lengths, fixed, limit, level, offset)
    return (got is NotImplemented and isinstance(want, type)) or got == want
checked = 0
for n, docs in ((1, 1), (3, 10), (4, 10), (127, 300), (128, 300), (129, 300), (300, 1000), (1000, 5000), (40, 40)):
    for fixed in (-1, 0, 3):
        for weights in WEIGHTS:
            for kind in ("shared", "mixed", "empty"):
                for limit, level in ((128, 3), (2, 3), (7, 0), (128, 9)):
                    ids = sorted(rng.sample(range(docs), n))
                    postings = [("f", b"t", d, WEIGHTS[weights](), value(kind, fixed)) for d in ids]
                    lengths = [rng.choice([0, rng.randint(1, 200), rng.randint(1, 200_000)]) for _ in range(docs)]
                    for d in ids[::2]:
                        lengths[d] = lengths[d] or rng.randint(1, 300)
                    for arr in (array("q", lengths), None):
                        if not same(postings, arr, fixed, limit, level):
                            sys.exit(f"n={n} fixed={fixed} weights={weights} values={kind} limit={limit} level={level} lengths={arr is not None}: differs")
                        checked += 1
far = [("f", b"t", d, 1.5, rng.choice(shared)) for d in (0, 70_000, 2**24 + 3, 2**31 - 1)]
if not same(far, None, -1, 128, 3) or not same(far, None, -1, 2, 3):
    sys.exit("large docnums: differ")
memo = [("f", b"t", d, 1.0, bytes([128 + d % 100, d % 7])) for d in range(200)]    # > 256 memo entries
if not same(memo, None, -1, 200, 0):
    sys.exit("a memo past 256 entries: differs")
if encode([("f", b"t", -1, 1.0, b"x")], None, -1, 128, 3, 0) is not None:
    sys.exit("spelling markers only: not None")
for odd in ([("f", b"t", 0, 1, b"x")], [("f", b"t", 0, float("nan"), b"x")], [("f", b"t", 0, 1.0, "x")],
            [("f", b"t", 2**31, 1.0, b"x")], [("f", b"t", 0, 1e300, b"x")]):
    if encode(odd, None, -1, 128, 3, 0) is not NotImplemented:
        sys.exit(f"{odd}: not left to the reference")
# The posting pool: postings added document by document (and some going back, as a merge of
# segments adds them), spilled to runs in memory, merged: Python's sorted() order.
import io
module = load_module(sys.argv[1])
for back in (False, True):
    postings = []
    for docnum in range(600):
        pairs = {(rng.choice(["body_en", "title_th", "entities"]), bytes(rng.randrange(97, 123) for _ in range(rng.randint(1, 4))))
                 for _ in range(rng.randrange(1, 30))}
        postings += [(f, t, docnum, rng.choice([1.0, 2.5]), rng.choice([b"", b"\x00\x01", bytes(range(9))]))
                     for f, t in sorted(pairs, key=lambda _: rng.random())]
    if back:
        postings = postings[len(postings) // 3:] + postings[:len(postings) // 3]
    runs = []
    def spill():
        run = io.BytesIO()
        pool.spill(run)
        runs.append(run.getvalue())
    pool = module.PostingBuffer(30_000, 150, set(), spill)
    for posting in postings:
        pool.add(posting)
    merged = list(pool.merge([io.BytesIO(run) for run in runs], None))
    if len(runs) < 5 or merged != sorted(postings):
        sys.exit(f"the posting pool's merge differs from sorted() ({len(runs)} runs, out of order: {back})")
# A positional field's postings from its tokens (add_field, indexer/docwriter.py) against
# TermPositions' word_values and Whoosh's loop: every field analyzer over the seed articles,
# the positions' encodings shared with the Python code, character spans, lengths.
from pathlib import Path
import pickle
from analyzers import FIELD_LANGUAGES, analyzer_for
from indexer.positions import TermPositions, _ONCE, _ONCE_MAX, encode_positions
texts = [p.read_text(encoding="utf-8") for p in sorted(Path("corpus").glob("*.txt"))]
texts += ["the river and the sea and the river again " * 400, ""]
for lang in FIELD_LANGUAGES:
    analyzer = analyzer_for(lang)
    for docnum, text in enumerate(texts):
        for boost, fieldboost in ((1.0, 1.0), (2.5, 0.5)):
            fmt = TermPositions(field_boost=boost)
            s1, e1 = [], []
            python = list(fmt._postings(text, analyzer, s1, e1, mode="index"))
            want = [("f", t.encode("utf-8"), docnum, w * fieldboost, v) for t, _, w, v in python]
            pool = module.PostingBuffer(1 << 40, 150, set(), lambda: None)
            s2, e2 = [], []
            length = pool.add_field("f", docnum, analyzer(text, mode="index", positions=True, boosts=True, chars=True),
                                    boost, fieldboost, _ONCE, _ONCE_MAX, encode_positions, s2, e2)
            got = list(pool.merge([], None))
            if got != sorted(want) or (s1, e1) != (s2, e2) or length != sum(f for _, f, _, _ in python):
                sys.exit(f"add_field differs from TermPositions and Whoosh's loop ({lang}, document {docnum})")
            once = {id(v) for v in _ONCE.values()}
            if any(id(v) not in once for _, _, _, _, v in got if v[:4] == b"\x00\x00\x00\x01"
                   and 0 <= pickle.loads(v[4:])[0] < _ONCE_MAX):
                sys.exit("add_field does not share a term found once's encoding with the Python code")
            checked += 1
# The block reader (decode_block, indexer/postings.py): the docnums, weights and wanted values
# of blocks the writer wrote, whole and from a prefix, as pickle.loads gives them.
import zlib
import numpy as np
from indexer.postings import _blocks
decode = module.decode_block
for n, kind, weights in ((1, "shared", "any"), (5, "mixed", "one"), (128, "shared", "same"), (700, "mixed", "any")):
    ids = sorted(rng.sample(range(5 * n + 2**30), n))
    postings = [("f", b"t", d, WEIGHTS[weights](), value(kind, -1) or b"\x01") for d in ids]
    blob, _ = encode_term_reference(postings, _NoLengths(), None, 128, 3, 0)
    for count, _, compression, data in _blocks(blob):
        data = zlib.decompress(data) if compression else bytes(data)
        deltas, ws, vs = pickle.loads(data)
        wanted = sorted(rng.sample(range(count), min(count, 9)))
        by_docnum = np.cumsum(np.asarray(deltas, dtype=np.int64))[wanted]
        for got, part in ((decode(data, count, wanted), data), (decode(data, count, by_docnum), data),
                          (decode(data[:14 * count + 64], count, None), None)):
            if got is None and part is None and count <= 3:
                continue
            if (got is None or bytes(got[0]) != np.cumsum(np.asarray(deltas, dtype=np.int64)).tobytes()
                    or (bytes(got[1]) != np.asarray(ws, dtype=np.float64).tobytes() if isinstance(got[1], bytearray) else got[1] != ws)
                    or (part is not None and got[2] != [vs[i] for i in wanted])):
                sys.exit(f"decode_block differs from pickle.loads ({n} postings, values {kind}, weights {weights})")
            checked += 1
# Phrases (consecutive_docs, indexer/arrayscore.py): the documents where the words' positions,
# as the format encodes them, are consecutive, as _consecutive finds them from decode_positions.
from indexer.arrayscore import _consecutive
fmt = TermPositions()
for words in (1, 2, 3, 5):
    for spread in (3, 40, 70_000, 2**31 - 1):
        values = [[], [], [], [], []]
        for _ in range(300):
            base = sorted(rng.sample(range(spread), min(spread, rng.choice([1, 1, 2, 5, 1200]))))
            for k in range(words):
                if rng.random() < 0.5:
                    positions = [p + k for p in base if rng.random() < 0.8]
                else:
                    positions = sorted(rng.sample(range(spread), min(spread, rng.randint(1, 9))))
                value = fmt.encode(positions) if positions else fmt.encode([])
                values[k].append(value[:-1] if rng.random() < 0.5 else value)     # STOP cut off in a block
        lists = values[:words]
        want = bytes(_consecutive(fmt, [lst[i] for lst in lists]) for i in range(len(lists[0])))
        if bytes(module.consecutive_docs(lists) or b"?") != want:
            sys.exit(f"consecutive_docs differs from _consecutive ({words} words, positions up to {spread})")
        checked += 1
for odd in ([[b"x"]], [[fmt.encode([1, 2])[:-3]]], [[fmt.encode([1]) + b"K"]], [[fmt.encode([3])], []],
            [[b"\x00\x00\x00\x05" + fmt.encode([1, 2])[4:]]], [["text"]], [], [[pickle.dumps([1], 4)]]):
    if module.consecutive_docs(odd) is not None:
        sys.exit(f"consecutive_docs reads {odd!r}: not None")
# Facet counts (count_ranges, indexer/facets.py): per value, the pairs of some documents that
# carry it, as numpy's gather and bincount count them; out-of-range input refused.
for docs_n, values_n in ((1, 1), (50, 3), (3000, 237)):
    per_doc = np.array([rng.randrange(0, 12) for _ in range(docs_n)], dtype=np.int64)
    starts = np.zeros(docs_n + 1, dtype=np.int64)
    np.cumsum(per_doc, out=starts[1:])
    pairs = np.array([rng.randrange(values_n) for _ in range(int(starts[-1]))], dtype=np.int32)
    docs = np.array(sorted(rng.sample(range(docs_n), rng.randint(0, docs_n))), dtype=np.int64)
    out = np.full(values_n, -7, dtype=np.int64)
    module.count_ranges(starts, pairs, docs, out)
    want = np.bincount(np.concatenate([pairs[starts[d]:starts[d + 1]] for d in docs] + [pairs[:0]]), minlength=values_n)
    if not np.array_equal(out, want):
        sys.exit(f"count_ranges differs from numpy ({docs_n} documents, {values_n} values)")
    for bad_docs in ([docs_n], [-1]):
        try:
            module.count_ranges(starts, pairs, np.array(bad_docs, dtype=np.int64), out)
            sys.exit("count_ranges took a document out of range")
        except ValueError:
            pass
    checked += 1
print("ok", checked)
"""


def build(directory: Path | None = None, compiler: str | None = None) -> tuple[Path, bool]:
    """Compile, check against the Python reference, install: (path, whether it was built now)."""
    directory = directory or library_dir()
    target = library_path(directory)
    if target.is_file():
        return target, False
    compiler = find_compiler(compiler)
    build_checked(SOURCE_DIR / SOURCES[0], target, compiler, CFLAGS, _CHECK_SCRIPT, "indexer/csegment",
                  include_dirs=(python_include(), SOURCE_DIR), ldflags=LDFLAGS)
    _modules.clear()
    return target, True


def describe(result: tuple[Path, bool]) -> str:
    path, built = result
    return f"built {path} (writes what the Python code writes)" if built else f"indexer/csegment is up to date: {path}"
