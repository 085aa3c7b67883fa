"""The int8 passage matrix (indexer/quantized) and dense search on it (indexer/vectors.py).

The builds are real (gcc) and checked bit for bit against numpy; speed is measured by
benchmarks/hybrid.py, not here.
"""
import shutil

import numpy as np
import pytest
from cpu import cpu_has

from indexer import quantized
from indexer.vectors import CODES, MIN_CENTER_ARTICLES, MIN_LANGUAGE_ARTICLES, RESCORE_SIGMAS, SCALES, VectorSet

needs_compiler = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None,
                                    reason="no C compiler here")
LANGS = ["th", "zh", "ar", "vi", "en"]


def _vectors(articles, dim=384, seed=0):
    """Unit rows sharing a common direction (like e5's: cosines of unrelated texts ~0.8), 1-4
    passages per article, five languages."""
    rng = np.random.default_rng(seed)
    ids, langs = [], []
    for a in range(articles):
        n = int(rng.integers(1, 5))
        ids += [f"d{a}"] * n
        langs += [LANGS[a % len(LANGS)]] * n
    matrix = rng.standard_normal((len(ids), dim)).astype(np.float32) + 0.6
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return ids, langs, matrix


def _queries(matrix, n, seed=1):
    rng = np.random.default_rng(seed)
    q = matrix[rng.integers(len(matrix), size=n)] + 0.5 * rng.standard_normal((n, matrix.shape[1]))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("int8")
    stale = directory / "int8-scores-0000000000000000.so"
    stale.write_bytes(b"an older build")
    path, built = quantized.build(directory)
    assert built and path.is_file() and not stale.exists()
    assert quantized.build(directory) == (path, False)
    return quantized.load_scorer(directory)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    ids, langs, matrix = _vectors(3000)
    directory = tmp_path_factory.mktemp("gen")
    VectorSet(model="m", ids=ids, langs=langs, hashes=[""] * len(ids), matrix=matrix).save(directory)
    return directory, VectorSet(model="m", ids=ids, langs=langs, hashes=[""] * len(ids), matrix=matrix)


def test_quantize_keeps_every_component_within_half_a_step():
    _, _, matrix = _vectors(200, dim=50)
    matrix[3] = 0.0                                   # a zero row must not divide by zero
    codes, scales = quantized.quantize(matrix, chunk_rows=64)
    assert codes.dtype == np.int8 and scales.dtype == np.float32
    assert np.abs(codes.astype(int)).max() <= quantized.CODE_MAX
    error = np.abs(codes * scales[:, None] - matrix)
    assert (error <= scales[:, None] / 2 * (1 + 1e-5)).all()
    assert not codes[3].any()
    whole = quantized.quantize(matrix)
    assert np.array_equal(whole[0], codes) and np.array_equal(whole[1], scales)
    assert (quantized.quantize(-matrix)[0] == -codes).all()      # symmetric


@needs_compiler
@pytest.mark.parametrize("rows,dim", [(0, 384), (5, 384), (6, 37), (quantized.PARALLEL_ROWS + 3, 64)])
def test_kernel_equals_numpy_bit_for_bit(scorer, rows, dim):
    rng = np.random.default_rng(rows + dim)
    codes = rng.integers(-127, 128, size=(rows, dim), dtype=np.int8)
    scales = rng.random(rows, dtype=np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    got = scorer.scores(codes, scales, query)
    assert np.array_equal(got, quantized.reference_scores(codes, scales, query))
    if rows:
        starts = np.flatnonzero(np.r_[True, rng.random(rows - 1) < 0.3])
        assert np.array_equal(scorer.group_max(got, starts), np.maximum.reduceat(got, starts))
    with pytest.raises(ValueError):
        scorer.scores(codes, scales, query[:-1])


def _fused_matches_the_passes(scorer, codes, scales, query, starts, langs, nlang, chunk_rows):
    """Asserts that article_scores gives what scores, group_max, the margin's product and
    bincount give apart (its scores and margins bit for bit)."""
    best, margin, sums = scorer.article_scores(codes, scales, query, starts,
                                               quantized.article_chunks(starts, chunk_rows), langs, nlang,
                                               RESCORE_SIGMAS)
    rows = quantized.reference_scores(codes, scales, query)
    assert np.array_equal(best, np.maximum.reduceat(rows, starts))
    assert np.array_equal(margin, np.maximum.reduceat(scales, starts) * quantized.error_sigma(query)
                          * RESCORE_SIGMAS)
    exact = best.astype(np.float64)
    assert np.allclose(sums[:, 0], np.bincount(langs, weights=exact, minlength=nlang), rtol=1e-12)
    assert np.allclose(sums[:, 1], np.bincount(langs, weights=exact ** 2, minlength=nlang), rtol=1e-12)


_LOOP_SCRIPT = r"""
import sys
import numpy as np
sys.path.insert(0, "tests")
from indexer.quantized import Int8Scorer, PARALLEL_ROWS, reference_scores
from test_quantized import _fused_matches_the_passes
scorer = Int8Scorer(sys.argv[1])
rng = np.random.default_rng(3)
for rows, dim in ((5, 384), (6, 37), (PARALLEL_ROWS + 3, 64), (PARALLEL_ROWS + 40, 384)):
    codes = rng.integers(-127, 128, size=(rows, dim), dtype=np.int8)
    scales = rng.random(rows, dtype=np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    assert np.array_equal(scorer.scores(codes, scales, query), reference_scores(codes, scales, query)), (rows, dim)
    starts = np.flatnonzero(np.r_[True, rng.random(rows - 1) < 0.3])
    _fused_matches_the_passes(scorer, codes, scales, query, starts, rng.integers(0, 4, size=len(starts)), 4, 64)
print(scorer.loop)
"""



@needs_compiler
@pytest.mark.skipif(not (cpu_has("avx512_vnni") and cpu_has("avx512bw")),
                    reason="this CPU has no AVX-512 VNNI: only the AVX2 loop runs")
def test_avx512_and_avx2_loops_both_run_and_equal_numpy_bit_for_bit(scorer):
    import os
    import subprocess
    import sys
    from pathlib import Path

    assert scorer.loop == "avx512-vnni"
    loops = []
    for setting in ("on", "off"):      # read when the library loads: one process each
        done = subprocess.run([sys.executable, "-c", _LOOP_SCRIPT, str(scorer.path)], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
                              env={**os.environ, "POLYSEARCH_INT8_AVX512": setting})
        loops.append(done.stdout.strip())
    assert loops == ["avx512-vnni", "avx2"]


@needs_compiler
@pytest.mark.parametrize("rows,dim,chunk_rows", [(1, 384, 4096), (9, 37, 3), (500, 384, 7),
                                                 (quantized.PARALLEL_ROWS + 3, 64, quantized.CHUNK_ROWS)])
def test_fused_article_scores_equal_the_separate_passes(scorer, rows, dim, chunk_rows):
    # chunks of a few rows: articles longer than a chunk, and many chunks per thread
    rng = np.random.default_rng(rows + dim)
    codes = rng.integers(-127, 128, size=(rows, dim), dtype=np.int8)
    scales = rng.random(rows, dtype=np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    starts = np.flatnonzero(np.r_[True, rng.random(rows - 1) < 0.3])
    langs = rng.integers(0, 5, size=len(starts))
    _fused_matches_the_passes(scorer, codes, scales, query, starts, langs, 5, chunk_rows)


@needs_compiler
def test_fused_article_scores_refuse_articles_out_of_order_or_language_out_of_range(scorer):
    rng = np.random.default_rng(9)
    codes = rng.integers(-127, 128, size=(20, 16), dtype=np.int8)
    scales = rng.random(20, dtype=np.float32)
    query = rng.standard_normal(16).astype(np.float32)
    starts, langs = np.array([0, 5, 9, 14]), np.array([0, 1, 1, 2])
    chunks = quantized.article_chunks(starts, 8)
    scorer.article_scores(codes, scales, query, starts, chunks, langs, 3, RESCORE_SIGMAS)
    for bad_starts, bad_langs, nlang in (([0, 9, 5, 14], langs, 3), ([0, 5, 9, 25], langs, 3),
                                         ([0, 5, 5, 14], langs, 3), (starts, [0, 1, 3, 2], 3),
                                         (starts, [0, -1, 1, 2], 3), ([1, 5, 9, 14], langs, 3)):
        with pytest.raises(ValueError):
            scorer.article_scores(codes, scales, query, np.array(bad_starts), chunks, np.array(bad_langs),
                                  nlang, RESCORE_SIGMAS)


@needs_compiler
def test_standardization_in_c_is_numpys(scorer):
    # Languages too small for their own mean (< 3) or spread (< 30) take the collection's.
    rng = np.random.default_rng(4)
    sizes = {"xx": 1, "yy": 2, "zz": 5, "th": 40, "en": 700}
    langs = [lang for lang, n in sizes.items() for _ in range(n)]
    rng.shuffle(langs)
    scores = (rng.standard_normal(len(langs)) * 0.04 + 0.8 + 0.1 * np.isin(langs, ["th"])).astype(np.float32)
    vectors = VectorSet(model="m", ids=[f"d{i}" for i in range(len(langs))], langs=langs,
                        hashes=[""] * len(langs), matrix=np.zeros((len(langs), 4), dtype=np.float32))
    names, codes, _ = vectors._language_groups
    margin = rng.random(len(langs)).astype(np.float32) * 0.01
    z, z_margin, center, spread = scorer.standardize(scores, codes, len(names), MIN_CENTER_ARTICLES,
                                                     MIN_LANGUAGE_ARTICLES, margin)
    assert np.allclose(z, vectors.standardized(scores), rtol=1e-5, atol=1e-5)
    c, s = vectors.standardization(scores)
    assert np.allclose(center[codes], c) and np.allclose(spread[codes], s)
    small = np.isin(langs, ["xx", "yy", "zz"])
    assert len(set(spread[codes][small])) == 1 and len(set(center[codes][np.isin(langs, ["xx", "yy"])])) == 1
    assert np.allclose(z_margin, margin / spread[codes], rtol=1e-5, atol=1e-5)
    assert (z_margin >= margin / spread[codes]).all()
    # from each language's sums (as the fused kernel makes them): the same, in one pass
    x = scores.astype(np.float64)
    sums = np.stack([np.bincount(codes, weights=x), np.bincount(codes, weights=x * x)], axis=1)
    z2, z2_margin, center2, spread2 = scorer.standardize(scores, codes, len(names), MIN_CENTER_ARTICLES,
                                                         MIN_LANGUAGE_ARTICLES, margin, sums=sums)
    assert np.allclose(center2, center, rtol=1e-12) and np.allclose(spread2, spread, rtol=1e-9)
    assert np.allclose(z2, z, rtol=1e-5, atol=1e-5) and np.allclose(z2_margin, z_margin, rtol=1e-5)


@needs_compiler
def test_errors_stay_well_inside_the_rescoring_margin(scorer):
    _, _, matrix = _vectors(2000)
    codes, scales = quantized.quantize(matrix)
    worst = 0.0
    for query in _queries(matrix, 50):
        error = scorer.scores(codes, scales, query) - matrix.astype(np.float64) @ query
        worst = max(worst, float(np.abs(error / (scales * quantized.error_sigma(query))).max()))
    # ~270,000 errors of a normal distribution reach ~5 standard deviations; the margin is 7.
    assert 1.0 < worst < RESCORE_SIGMAS - 1


@needs_compiler
def test_a_kernel_that_disagrees_with_numpy_is_not_installed(tmp_path, monkeypatch):
    wrong = tmp_path / "int8_scores.c"
    wrong.write_text(quantized.SOURCE.read_text().replace("total += (int32_t)codes[i] * query[i];",
                                                         "total += (int32_t)codes[i] * query[i] + 1;"))
    monkeypatch.setattr(quantized, "SOURCE", wrong)
    with pytest.raises(quantized.BuildError, match="failed its check"):
        quantized.build(tmp_path / "lib")
    assert not list((tmp_path / "lib").glob("*.so"))


@pytest.mark.parametrize("compiler", ["/nonexistent/cc", "false"])
def test_install_step_without_a_working_compiler_warns_and_search_uses_float32(
        compiler, tmp_path, monkeypatch, capsys, saved):
    from indexer.quantized.__main__ import main

    monkeypatch.setenv("POLYSEARCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", compiler)
    assert main([]) == 0
    assert "float32 product will be used" in capsys.readouterr().err
    assert main(["--strict"]) == 1
    assert quantized.load_scorer() is None
    directory, in_memory = saved
    loaded = VectorSet.load(directory)
    query = _queries(in_memory.matrix, 1)[0]
    assert loaded.query_scores(query, standardize=True).margin is None
    assert loaded.nearest(query, 20, standardize=True) == in_memory.nearest(query, 20, standardize=True)


def test_rescoring_reads_row_ranges_in_place_as_numpy_scores_them(scorer):
    # An article's exact score is its best passage's float32 product, read from the matrix
    # where it lies; numpy (gathered rows, then BLAS) sums in another order: last bits only.
    ids, _, matrix = _vectors(500, seed=6)
    vectors = VectorSet(model="m", ids=ids, langs=["en"] * len(ids), hashes=[""] * len(ids), matrix=matrix)
    rng = np.random.default_rng(8)
    for query in _queries(matrix, 20, seed=3):
        articles = rng.permutation(len(vectors))[:int(rng.integers(1, 120))]    # any order
        starts, ends = vectors.starts[articles], vectors.ends[articles]
        got = scorer.ranges_max_dot(matrix, starts, ends, query)
        want = np.maximum.reduceat(matrix @ query, vectors.starts)[articles]
        assert got.dtype == np.float32 and np.allclose(got, want, rtol=0, atol=2e-7)
    for bad in ((np.array([3]), np.array([3])), (np.array([-1]), np.array([2])),
                (np.array([0]), np.array([len(matrix) + 1]))):
        with pytest.raises(ValueError):
            scorer.ranges_max_dot(matrix, *bad, query)
    assert len(scorer.ranges_max_dot(matrix, starts[:0], ends[:0], query)) == 0


def test_the_candidates_for_rescoring_are_numpys(scorer):
    # Which articles may still reach the top k: the same indexes as the numpy reference, with
    # filtered-out articles (-inf), ties among the lower bounds, zero margins and k = all.
    rng = np.random.default_rng(11)
    for n, k in ((1, 1), (5, 5), (300, 10), (300, 299), (20000, 100)):
        values = rng.integers(-40, 40, size=n).astype(np.float32) / 8     # many ties
        values[rng.random(n) < 0.3] = -np.inf
        values[:k] = rng.standard_normal(k)                                # k finite at least
        margin = (rng.integers(0, 4, size=n) / 16).astype(np.float32)
        got = scorer.top_candidates(values, margin, k)
        want = quantized.top_candidates_reference(values, margin, k)
        assert np.array_equal(got, want) and len(got) >= k
    assert np.array_equal(scorer.top_candidates(np.float32([3, 1, 2]), np.zeros(3, np.float32), 2), [0, 2])
    # fewer finite values than k: every finite one, as numpy's
    few = np.float32([1, -np.inf, 2]), np.zeros(3, np.float32)
    assert np.array_equal(scorer.top_candidates(*few, 3), quantized.top_candidates_reference(*few, 3))
    assert np.array_equal(scorer.top_candidates(*few, 3), [0, 2])
    for bad_k in (0, 4):
        with pytest.raises(ValueError):
            scorer.top_candidates(*few, bad_k)


@needs_compiler
def test_dense_top_from_int8_rows_is_the_float32_top(scorer, saved, monkeypatch):
    monkeypatch.setattr(quantized, "load_scorer", lambda directory=None: scorer)
    directory, exact = saved
    assert (directory / CODES).is_file() and (directory / SCALES).is_file()
    fast = VectorSet.load(directory)
    assert fast.codes is not None and exact.codes is None
    rng = np.random.default_rng(5)
    for n, query in enumerate(_queries(exact.matrix, 30)):
        allowed = rng.random(len(exact)) < 0.3 if n % 3 == 0 else None
        # Raw cosines: the same articles in the same order, with the float32 scores.
        got, want = fast.nearest(query, 50, allowed), exact.nearest(query, 50, allowed)
        assert [d for d, _ in got] == [d for d, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=0, atol=1e-6)
        # z-scores: the per-language mean and spread come from the int8 scores, so near-ties
        # may swap, by a few thousandths of a standard deviation at most.
        got = fast.nearest(query, 50, allowed, standardize=True)
        want = dict(exact.nearest(query, 60, allowed, standardize=True))
        assert all(doc in want and abs(z - want[doc]) < 0.01 for doc, z in got)
        assert [z for _, z in got] == sorted((z for _, z in got), reverse=True)


@needs_compiler
def test_the_margin_decides_which_articles_are_rescored(scorer, saved, monkeypatch):
    # With no margin, only the approximate top is rescored: the order can then differ from
    # the float32 one, which is what the margin is for (this checks the test above can fail).
    monkeypatch.setattr(quantized, "load_scorer", lambda directory=None: scorer)
    directory, exact = saved
    fast = VectorSet.load(directory)
    differ = 0
    for query in _queries(exact.matrix, 30, seed=9):
        scores = fast.query_scores(query)
        scores.margin = np.zeros_like(scores.margin)
        differ += fast.top(scores, 50) != exact.nearest(query, 50)
    assert differ > 0


def test_generations_without_int8_rows_load_and_mismatched_ones_are_refused(saved, tmp_path):
    directory, in_memory = saved
    for name in ("vectors.npy", "vectors.json"):
        shutil.copy(directory / name, tmp_path / name)
    old = VectorSet.load(tmp_path)
    assert old.codes is None and old.query_scores(in_memory.matrix[0]).margin is None
    np.save(tmp_path / CODES, np.zeros((3, in_memory.dim), dtype=np.int8))
    np.save(tmp_path / SCALES, np.ones(3, dtype=np.float32))
    with pytest.raises(ValueError, match="does not match"):
        VectorSet.load(tmp_path)


def test_off_switch_uses_the_float32_product(saved, monkeypatch):
    monkeypatch.setenv("POLYSEARCH_INT8_SCORES", "off")
    directory, _ = saved
    assert quantized.load_scorer() is None
    assert VectorSet.load(directory).query_scores(np.ones(384, dtype=np.float32) / 384 ** 0.5).margin is None
