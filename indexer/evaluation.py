"""Retrieval evaluation with ir-measures: overall, per query language, and per
(query language → document language) pair for cross-language search.

The measures are ir-measures' (MRR@10 is its RR@10); this module only decides
which queries and documents go in.  Two choices matter:

- Every query in the qrels counts.  A query the run has no results for scores
  0 on every measure instead of being left out of the mean.  ir-measures 0.4
  already does this, but older versions and some providers skip queries absent
  from the run (flattering a system that fails on hard queries), so the zeros
  are filled in here explicitly.
- The run's order is what gets evaluated.  ir-measures re-sorts by score and
  breaks ties by doc id, so scores are replaced by rank-derived ones first.
"""
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import ir_measures
from ir_measures import R, RR, nDCG

from indexer.trec import Qrels, ranked

RunLike = Mapping[str, Sequence[tuple[str, float]] | Mapping[str, float]]

# Display label → ir-measures measure.
MEASURES = {
    "MRR@10": RR @ 10,
    "nDCG@10": nDCG @ 10,
    "R@10": R @ 10,
    "R@100": R @ 100,
}
ALL = "all"
UNKNOWN_LANGUAGE = "und"
_XQUAD_DOC_ID = re.compile(r"xquad-([a-z]{2,3})-\d+")


def qid_language(qid: str) -> str:
    """Query language from an xquad-dev query id: "th-56be..." → "th"."""
    prefix, dash, _rest = qid.partition("-")
    return prefix if dash and prefix else UNKNOWN_LANGUAGE


def xquad_doc_language(docid: str) -> str:
    """Document language from an xquad-dev doc id: "xquad-zh-17" → "zh"."""
    match = _XQUAD_DOC_ID.fullmatch(docid)
    return match.group(1) if match else UNKNOWN_LANGUAGE


@dataclass
class EvaluationReport:
    measures: tuple[str, ...]
    overall: dict[str, float]
    groups: dict[str, dict[str, float]]          # group (e.g. query language) → measure → mean
    counts: dict[str, int]                        # group → number of queries ("all" included)
    per_query: dict[str, dict[str, float]] = field(repr=False)  # qid → measure → value
    missing: list[str] = field(default_factory=list)  # qrels queries absent from the run


def _run_in_rank_order(run: RunLike) -> dict[str, dict[str, float]]:
    """Scores N, N-1, ... 1 in the run's order, so ties cannot be re-broken by doc id."""
    evaluable = {}
    for qid, results in run.items():
        docs = ranked(results)
        evaluable[qid] = {docid: float(len(docs) - i) for i, (docid, _score) in enumerate(docs)}
    return evaluable


def per_query_scores(run: RunLike, qrels: Qrels,
                     measures: Mapping[str, object] = MEASURES) -> tuple[dict[str, dict[str, float]], list[str]]:
    """``{qid: {label: value}}`` for every qrels query, and the qids missing from the run."""
    judged = {qid: docs for qid, docs in qrels.items() if docs}
    evaluable = {qid: docs for qid, docs in _run_in_rank_order(run).items() if qid in judged and docs}
    label_of = {measure: label for label, measure in measures.items()}
    scores: dict[str, dict[str, float]] = {qid: dict.fromkeys(measures, 0.0) for qid in judged}
    if evaluable:
        for metric in ir_measures.iter_calc(list(measures.values()), judged, evaluable):
            scores[metric.query_id][label_of[metric.measure]] = float(metric.value)
    missing = [qid for qid in judged if qid not in evaluable]
    return scores, missing


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values) if values else 0.0


def evaluate(run: RunLike, qrels: Qrels, by: Callable[[str], str] | None = qid_language,
             measures: Mapping[str, object] = MEASURES) -> EvaluationReport:
    """MRR@10, nDCG@10, R@10, R@100 overall and per group (``by(qid)``, default: query language).

    ``run`` is ``{qid: [(docid, score), ...]}`` (or ``{qid: {docid: score}}``);
    ``qrels`` is ``{qid: {docid: relevance}}``.  Pass ``by=None`` for overall only.
    """
    labels = tuple(measures)
    per_query, missing = per_query_scores(run, qrels, measures)
    members: dict[str, list[str]] = defaultdict(list)
    if by is not None:
        for qid in per_query:
            members[by(qid)].append(qid)
    overall = {label: _mean(scores[label] for scores in per_query.values()) for label in labels}
    groups = {group: {label: _mean(per_query[q][label] for q in qids) for label in labels}
              for group, qids in sorted(members.items())}
    counts = {group: len(qids) for group, qids in sorted(members.items())}
    counts[ALL] = len(per_query)
    return EvaluationReport(labels, overall, groups, counts, per_query, missing)


# Cross-language pairs ------------------------------------------------------------------
@dataclass
class PairReport:
    """MRR@10 per (query language, target document language)."""
    mrr: dict[tuple[str, str], float]             # (query lang, doc lang) → MRR@10
    counts: dict[tuple[str, str], int]            # (query lang, doc lang) → queries
    off_diagonal_mean: float                      # macro average over pairs with different languages
    diagonal_mean: float
    depth: int


def evaluate_by_target_language(run: RunLike, pool_qrels: Qrels, depth: int = 100,
                                query_lang: Callable[[str], str] = qid_language,
                                doc_lang: Callable[[str], str] = xquad_doc_language) -> PairReport:
    """For each (query language → document language) pair: MRR@10 of the gold
    document of that language among only that language's documents in the
    top-``depth`` of the mixed-language ranking.

    This separates "finds the right paragraph in Chinese" from "ranks Chinese
    documents above Thai ones": a Thai query's own-language hits may crowd
    the top of the mixed list and still the Chinese gold can be first among
    Chinese documents.
    """
    top = {qid: ranked(results)[:depth] for qid, results in run.items()}
    sub_runs: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(dict)
    sub_qrels: dict[str, Qrels] = defaultdict(dict)
    pair_of: dict[str, tuple[str, str]] = {}
    for qid, judged in pool_qrels.items():
        gold_by_lang: dict[str, dict[str, int]] = defaultdict(dict)
        for docid, relevance in judged.items():
            if relevance > 0:
                gold_by_lang[doc_lang(docid)][docid] = relevance
        for target, gold in gold_by_lang.items():
            # One pseudo-query per (query, target): qrels hold only the target's gold.
            key = f"pair{len(pair_of)}"
            pair_of[key] = (query_lang(qid), target)
            sub_qrels[key] = gold
            sub_runs[key] = [(d, s) for d, s in top.get(qid, []) if doc_lang(d) == target]
    rr_only = {"MRR@10": MEASURES["MRR@10"]}
    per_query, _missing = per_query_scores(sub_runs, dict(sub_qrels), rr_only)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for key, scores in per_query.items():
        values[pair_of[key]].append(scores["MRR@10"])
    mrr = {pair: _mean(v) for pair, v in sorted(values.items())}
    counts = {pair: len(v) for pair, v in sorted(values.items())}
    return PairReport(
        mrr=mrr, counts=counts, depth=depth,
        off_diagonal_mean=_mean(m for (q, d), m in mrr.items() if q != d),
        diagonal_mean=_mean(m for (q, d), m in mrr.items() if q == d),
    )


# Language bias -------------------------------------------------------------------------
@dataclass
class BiasReport:
    """How much a mixed ranking favours the query's own language."""
    own_language_share: float   # mean share of the top 10 written in the query's language
    outranked: float            # share of other-language gold documents ranked in the top `depth`
                                # below at least one non-relevant document in the query's language
    cross_gold_found: float     # share of other-language gold documents in the top `depth` at all
    depth: int


def language_bias(run: RunLike, pool_qrels: Qrels, depth: int = 100,
                  query_lang: Callable[[str], str] = qid_language,
                  doc_lang: Callable[[str], str] = xquad_doc_language) -> BiasReport:
    shares, outranked, found, cross = [], 0, 0, 0
    for qid, judged in pool_qrels.items():
        qlang = query_lang(qid)
        top = [d for d, _ in ranked(run.get(qid, []))[:depth]]
        if top:
            shares.append(sum(doc_lang(d) == qlang for d in top[:10]) / len(top[:10]))
        position = {d: i for i, d in enumerate(top)}
        near_misses = [i for i, d in enumerate(top) if doc_lang(d) == qlang and judged.get(d, 0) <= 0]
        first_miss = near_misses[0] if near_misses else depth
        for docid, relevance in judged.items():
            if relevance <= 0 or doc_lang(docid) == qlang:
                continue
            cross += 1
            if docid in position:
                found += 1
                outranked += first_miss < position[docid]
    return BiasReport(own_language_share=_mean(shares), outranked=outranked / found if found else 0.0,
                      cross_gold_found=found / cross if cross else 0.0, depth=depth)


def format_bias_report(report: BiasReport) -> str:
    return (f"language bias: {report.own_language_share:.1%} of the top 10 in the query's language; "
            f"{report.cross_gold_found:.1%} of other-language gold documents in the top {report.depth}, "
            f"{report.outranked:.1%} of those below a non-relevant same-language document")


# Formatting --------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        # First column left-aligned (a label), numbers right-aligned.
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def format_report(report: EvaluationReport | PairReport) -> str:
    """Aligned text table: one row per group then "all", measures as columns;
    for a PairReport, query languages as rows and target languages as columns."""
    if isinstance(report, PairReport):
        return format_pair_report(report)
    header = ["group", "queries", *report.measures]
    rows = [[group, str(report.counts[group]), *(f"{scores[m]:.4f}" for m in report.measures)]
            for group, scores in report.groups.items()]
    rows.append([ALL, str(report.counts[ALL]), *(f"{report.overall[m]:.4f}" for m in report.measures)])
    text = _table(header, rows)
    if report.missing:
        text += f"\n{len(report.missing)} queries had no results and count as 0"
    return text


def format_pair_report(report: PairReport) -> str:
    query_langs = sorted({q for q, _d in report.mrr})
    doc_langs = sorted({d for _q, d in report.mrr})
    header = ["query \\ docs", *doc_langs]
    rows = [[q, *(f"{report.mrr[(q, d)]:.4f}" if (q, d) in report.mrr else "-" for d in doc_langs)]
            for q in query_langs]
    return (f"MRR@10 of the gold document among target-language documents in the top {report.depth}\n"
            + _table(header, rows)
            + f"\ncross-language mean (off-diagonal): {report.off_diagonal_mean:.4f}"
            + f"\nsame-language mean (diagonal):      {report.diagonal_mean:.4f}")
