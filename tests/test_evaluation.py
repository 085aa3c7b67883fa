"""indexer.trec and indexer.evaluation on tiny hand-made runs with hand-computed numbers."""
import io
import math
from pathlib import Path

import pytest

from indexer.evaluation import (
    EvaluationReport, PairReport, evaluate, evaluate_by_target_language, format_report,
    qid_language, xquad_doc_language,
)
from indexer.trec import (
    QrelsFormatError, RunFormatError, TopicsFormatError, format_run, ranked, read_qrels, read_run,
    read_topics, write_qrels, write_run,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
XQUAD_DEV = REPO_ROOT.parent / "shared" / "eval" / "xquad-dev"


def log2(x):
    return math.log(x, 2)


# TREC files ---------------------------------------------------------------------------
def test_read_topics_skips_blank_lines(tmp_path):
    path = tmp_path / "topics.tsv"
    path.write_text("th-1\tข่าววันนี้\n\n   \nen-2\tWho won?\r\n", encoding="utf-8")
    assert read_topics(path) == {"th-1": "ข่าววันนี้", "en-2": "Who won?"}


@pytest.mark.parametrize("bad_line", ["en-3 no tab here", "\tquery without id", "en-4\t   "])
def test_malformed_topics_line_raises_with_its_line_number(tmp_path, bad_line):
    path = tmp_path / "topics.tsv"
    path.write_text(f"en-1\tfirst\n\nen-2\tsecond\n{bad_line}\n", encoding="utf-8")
    with pytest.raises(TopicsFormatError) as excinfo:
        read_topics(path)
    assert excinfo.value.line_number == 4
    assert ":4:" in str(excinfo.value)


def test_duplicate_topic_id_raises():
    with pytest.raises(TopicsFormatError) as excinfo:
        read_topics(io.StringIO("q1\ta\nq1\tb\n"))
    assert excinfo.value.line_number == 2


def test_run_round_trip_ranks_from_one_scores_descending_stable_ties(tmp_path):
    run = {
        "q1": [("d3", 0.5), ("d1", 2.0), ("tie-a", 1.0), ("tie-b", 1.0), ("d9", 1 / 3)],
        "q2": {"x": 7.25},
    }
    path = tmp_path / "run.txt"
    write_run(run, path, tag="bm25")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "q1 Q0 d1 1 2.0 bm25"
    assert [line.split()[2] for line in lines[:5]] == ["d1", "tie-a", "tie-b", "d3", "d9"]
    assert [int(line.split()[3]) for line in lines[:5]] == [1, 2, 3, 4, 5]
    back = read_run(path)
    assert back == {"q1": ranked(run["q1"]), "q2": [("x", 7.25)]}
    assert back["q1"][-1][1] == 1 / 3  # scores round-trip exactly


def test_read_run_orders_by_rank_column():
    text = "q1 Q0 b 2 5.0 t\nq1 Q0 a 1 5.0 t\n"
    assert read_run(io.StringIO(text)) == {"q1": [("a", 5.0), ("b", 5.0)]}


def test_write_run_depth_and_bad_tag():
    assert format_run({"q": [("a", 3), ("b", 2), ("c", 1)]}, depth=2).count("\n") == 2
    with pytest.raises(ValueError):
        format_run({"q": [("a", 1)]}, tag="two words")


def test_malformed_run_and_qrels_lines_raise_with_line_numbers():
    with pytest.raises(RunFormatError) as run_error:
        read_run(io.StringIO("q1 Q0 a 1 1.0 t\nq1 Q0 b two 0.5 t\n"))
    assert run_error.value.line_number == 2
    with pytest.raises(QrelsFormatError) as qrels_error:
        read_qrels(io.StringIO("q1 0 a 1\n\nq1 0 b\n"))
    assert qrels_error.value.line_number == 3


def test_qrels_round_trip(tmp_path):
    qrels = {"th-1": {"xquad-th-0": 1, "xquad-zh-0": 1}, "en-2": {"xquad-en-5": 2, "xquad-en-6": 0}}
    path = tmp_path / "qrels.txt"
    write_qrels(qrels, path)
    assert read_qrels(path) == qrels


# Evaluation ---------------------------------------------------------------------------
def test_gold_at_rank_two_and_missing_query_counts_as_zero():
    qrels = {
        "th-1": {"g1": 1},   # gold at rank 2
        "th-2": {"g2": 1},   # gold at rank 1
        "en-3": {"g3": 1},   # not in the run at all
    }
    run = {"th-1": [("x", 3.0), ("g1", 2.0), ("y", 1.0)], "th-2": [("g2", 9.0)]}
    report = evaluate(run, qrels)

    assert report.per_query["th-1"]["MRR@10"] == pytest.approx(0.5)
    assert report.per_query["th-1"]["nDCG@10"] == pytest.approx(1 / log2(3))
    assert report.per_query["th-2"]["MRR@10"] == pytest.approx(1.0)
    assert report.per_query["en-3"] == {"MRR@10": 0.0, "nDCG@10": 0.0, "R@10": 0.0, "R@100": 0.0}
    assert report.missing == ["en-3"]
    # The missing query is in the denominator: (0.5 + 1 + 0) / 3, not (0.5 + 1) / 2.
    assert report.overall["MRR@10"] == pytest.approx(1.5 / 3)
    assert report.overall["R@10"] == pytest.approx(2 / 3)
    assert report.groups["th"]["MRR@10"] == pytest.approx(0.75)
    assert report.groups["en"]["MRR@10"] == 0.0
    assert report.counts == {"en": 1, "th": 2, "all": 3}


def test_query_with_empty_result_list_counts_as_zero():
    report = evaluate({"q-1": [], "q-2": [("a", 1.0)]}, {"q-1": {"a": 1}, "q-2": {"a": 1}})
    assert report.overall["MRR@10"] == pytest.approx(0.5)


def test_recall_cutoffs_and_graded_ndcg():
    # Two relevant docs: one at rank 3, one at rank 50.
    run = {"en-1": [(f"d{i}", 100.0 - i) for i in range(1, 101)]}
    qrels = {"en-1": {"d3": 1, "d50": 1}}
    scores = evaluate(run, qrels).per_query["en-1"]
    assert scores["MRR@10"] == pytest.approx(1 / 3)
    assert scores["R@10"] == pytest.approx(0.5)
    assert scores["R@100"] == pytest.approx(1.0)
    # DCG@10 = 1/log2(4); ideal DCG@10 = 1 + 1/log2(3).
    assert scores["nDCG@10"] == pytest.approx((1 / log2(4)) / (1 + 1 / log2(3)))


def test_ties_are_evaluated_in_run_order_not_by_doc_id():
    # Same score; the run puts "a-gold" second. ir-measures alone would break
    # the tie by doc id and could put it first.
    run = {"en-1": [("z-other", 1.0), ("a-gold", 1.0)]}
    assert evaluate(run, {"en-1": {"a-gold": 1}}).overall["MRR@10"] == pytest.approx(0.5)


def test_run_queries_without_qrels_are_ignored_and_custom_grouping():
    run = {"a": [("d", 1.0)], "b": [("x", 1.0)], "unjudged": [("d", 1.0)]}
    qrels = {"a": {"d": 1}, "b": {"d": 1}}
    report = evaluate(run, qrels, by=lambda qid: "first" if qid == "a" else "second")
    assert report.counts == {"first": 1, "second": 1, "all": 2}
    assert report.overall["MRR@10"] == pytest.approx(0.5)
    assert evaluate(run, qrels, by=None).groups == {}


def test_language_helpers():
    assert qid_language("th-56beb4343aeaaa14008c925b") == "th"
    assert qid_language("nodash") == "und"
    assert xquad_doc_language("xquad-zh-17") == "zh"
    assert xquad_doc_language("article-42") == "und"


def test_pair_evaluation_filters_the_mixed_ranking_by_target_language():
    # Thai query; gold is paragraph 7 in every language.  In the mixed ranking
    # Thai documents come first, so the Chinese gold is at mixed rank 3 but the
    # first Chinese document; the English gold is the second English document.
    run = {"th-1": [
        ("xquad-th-7", 5.0),   # th gold: th rank 1
        ("xquad-th-2", 4.0),
        ("xquad-zh-7", 3.0),   # zh gold: mixed rank 3, zh rank 1
        ("xquad-en-3", 2.0),
        ("xquad-en-7", 1.0),   # en gold: en rank 2
    ]}
    qrels = {"th-1": {"xquad-th-7": 1, "xquad-zh-7": 1, "xquad-en-7": 1, "xquad-ar-7": 1}}
    report = evaluate_by_target_language(run, qrels)
    assert report.mrr[("th", "th")] == pytest.approx(1.0)
    assert report.mrr[("th", "zh")] == pytest.approx(1.0)
    assert report.mrr[("th", "en")] == pytest.approx(0.5)
    assert report.mrr[("th", "ar")] == 0.0          # no Arabic document retrieved
    assert report.off_diagonal_mean == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert report.diagonal_mean == pytest.approx(1.0)
    # Plain evaluation on the pool sees the zh gold at rank 3 only as a second relevant doc.
    assert evaluate(run, qrels).overall["MRR@10"] == pytest.approx(1.0)


def test_pair_evaluation_respects_depth_and_averages_per_pair():
    run = {
        "zh-1": [(f"xquad-zh-{i}", 200.0 - i) for i in range(100)] + [("xquad-en-1", 0.5)],
        "zh-2": [("xquad-en-9", 2.0), ("xquad-en-2", 1.0)],
    }
    qrels = {"zh-1": {"xquad-en-1": 1}, "zh-2": {"xquad-en-2": 1}}
    report = evaluate_by_target_language(run, qrels, depth=100)
    # zh-1's English gold is at mixed rank 101, outside the top 100: 0.  zh-2: 1/2.
    assert report.mrr[("zh", "en")] == pytest.approx((0.0 + 0.5) / 2)
    assert report.counts[("zh", "en")] == 2


def test_format_report_is_an_aligned_table():
    qrels = {"th-1": {"g": 1}, "en-2": {"g": 1}}
    text = format_report(evaluate({"th-1": [("x", 2.0), ("g", 1.0)]}, qrels))
    lines = text.splitlines()
    assert lines[0].split() == ["group", "queries", "MRR@10", "nDCG@10", "R@10", "R@100"]
    assert [line.split()[0] for line in lines[2:5]] == ["en", "th", "all"]
    assert len({len(line) for line in lines[:5]}) == 1  # aligned columns
    assert "0.5000" in lines[3]
    assert "1 queries had no results" in text
    pairs = evaluate_by_target_language({"th-1": [("xquad-zh-0", 1.0)]}, {"th-1": {"xquad-zh-0": 1}})
    assert "cross-language mean (off-diagonal): 1.0000" in format_report(pairs)


def test_reports_have_the_documented_types():
    assert isinstance(evaluate({}, {"q-1": {"d": 1}}), EvaluationReport)
    assert isinstance(evaluate_by_target_language({}, {"q-1": {"xquad-en-1": 1}}), PairReport)


def test_xquad_dev_files_parse():
    if not XQUAD_DEV.is_dir():
        pytest.skip(f"evaluation data not found at {XQUAD_DEV} (expected next to the repository)")
    topics = read_topics(XQUAD_DEV / "topics.th.tsv")
    qrels = read_qrels(XQUAD_DEV / "qrels.mono.txt")
    assert len(topics) == 632 and all(qid in qrels for qid in topics)
    # A perfect mono run scores 1 everywhere.
    perfect = {qid: [(next(iter(docs)), 1.0)] for qid, docs in qrels.items()}
    assert evaluate(perfect, qrels).overall["MRR@10"] == pytest.approx(1.0)
