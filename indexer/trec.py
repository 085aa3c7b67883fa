"""TREC file formats: topics TSV, runs and qrels.

- topics: ``qid<TAB>query`` per line, blank lines skipped.
- run:    ``qid Q0 docid rank score tag``, ranks from 1, scores descending.
- qrels:  ``qid 0 docid relevance``.

In memory a run is ``{qid: [(docid, score), ...]}`` in rank order and qrels
are ``{qid: {docid: relevance}}``; dicts keep file order.  Every reader
reports a malformed line by its 1-based number, so a broken file can be
fixed rather than silently half-read.
"""
import io
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

Run = dict[str, list[tuple[str, float]]]
Qrels = dict[str, dict[str, int]]
Source = str | Path | TextIO


class TrecFormatError(ValueError):
    """A line that does not follow the format; carries its 1-based line number."""

    def __init__(self, source: str, line_number: int, line: str, reason: str):
        self.source = source
        self.line_number = line_number
        self.line = line
        self.reason = reason
        super().__init__(f"{source}:{line_number}: {reason}: {line[:120]!r}")


class TopicsFormatError(TrecFormatError):
    pass


class RunFormatError(TrecFormatError):
    pass


class QrelsFormatError(TrecFormatError):
    pass


def _numbered_lines(source: Source) -> Iterator[tuple[str, int, str]]:
    """(source name, line number, line without its line ending) for each line."""
    if isinstance(source, (str, Path)):
        # utf-8-sig: a BOM from a Windows editor must not end up in the first qid.
        with open(source, encoding="utf-8-sig", newline="") as handle:
            yield from _numbered_lines_of(handle, str(source))
    else:
        yield from _numbered_lines_of(source, getattr(source, "name", "<stream>"))


def _numbered_lines_of(handle: Iterable[str], name: str) -> Iterator[tuple[str, int, str]]:
    for number, line in enumerate(handle, start=1):
        yield name, number, line.rstrip("\r\n")


# Topics ---------------------------------------------------------------------------
def read_topics(source: Source) -> dict[str, str]:
    """``{qid: query}`` from a ``qid<TAB>query`` file, in file order."""
    topics: dict[str, str] = {}
    for name, number, line in _numbered_lines(source):
        if not line.strip():
            continue
        qid, tab, query = line.partition("\t")
        qid, query = qid.strip(), query.strip()
        if not tab:
            raise TopicsFormatError(name, number, line, "expected qid<TAB>query")
        if not qid or not query:
            raise TopicsFormatError(name, number, line, "empty query id or query")
        if qid in topics:
            raise TopicsFormatError(name, number, line, f"duplicate query id {qid!r}")
        topics[qid] = query
    return topics


# Runs -------------------------------------------------------------------------------
def ranked(results: Sequence[tuple[str, float]] | Mapping[str, float]) -> list[tuple[str, float]]:
    """Results by descending score; ties keep their given order (sort is stable).

    Repeated doc ids keep their first (best-ranked) occurrence only.
    """
    items = list(results.items()) if isinstance(results, Mapping) else list(results)
    ordered = sorted(items, key=lambda item: -float(item[1]))
    seen: set[str] = set()
    unique = []
    for docid, score in ordered:
        if docid not in seen:
            seen.add(docid)
            unique.append((docid, float(score)))
    return unique


def format_run(run: Mapping[str, Sequence[tuple[str, float]] | Mapping[str, float]],
               tag: str = "polysearch", depth: int | None = None) -> str:
    """The run as TREC text, queries in the given order, ranks from 1."""
    if not tag or any(ch.isspace() for ch in tag):
        raise ValueError(f"run tag must be one word, got {tag!r}")
    out = io.StringIO()
    for qid, results in run.items():
        for rank, (docid, score) in enumerate(ranked(results)[:depth], start=1):
            if any(ch.isspace() for ch in qid + docid):
                raise ValueError(f"ids must not contain whitespace: {qid!r} {docid!r}")
            # repr() of a float round-trips exactly.
            out.write(f"{qid} Q0 {docid} {rank} {float(score)!r} {tag}\n")
    return out.getvalue()


def write_run(run: Mapping[str, Sequence[tuple[str, float]] | Mapping[str, float]],
              target: Source, tag: str = "polysearch", depth: int | None = None) -> None:
    text = format_run(run, tag=tag, depth=depth)
    if isinstance(target, (str, Path)):
        Path(target).write_text(text, encoding="utf-8")
    else:
        target.write(text)


def read_run(source: Source) -> Run:
    """``{qid: [(docid, score), ...]}`` ordered by the rank column."""
    rows: dict[str, list[tuple[int, int, str, float]]] = {}
    for name, number, line in _numbered_lines(source):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 6:
            raise RunFormatError(name, number, line, f"expected 6 fields, found {len(fields)}")
        qid, _q0, docid, rank_text, score_text, _tag = fields
        try:
            rank, score = int(rank_text), float(score_text)
        except ValueError:
            raise RunFormatError(name, number, line, "rank must be an integer and score a number") from None
        if math.isnan(score):
            raise RunFormatError(name, number, line, "score is NaN")
        rows.setdefault(qid, []).append((rank, number, docid, score))
    # Sort by rank, then file order: the rank column is the ranking.
    return {qid: [(docid, score) for _r, _n, docid, score in sorted(entries)]
            for qid, entries in rows.items()}


# Qrels ------------------------------------------------------------------------------
def read_qrels(source: Source) -> Qrels:
    """``{qid: {docid: relevance}}`` from ``qid 0 docid relevance`` lines."""
    qrels: Qrels = {}
    for name, number, line in _numbered_lines(source):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 4:
            raise QrelsFormatError(name, number, line, f"expected 4 fields, found {len(fields)}")
        qid, _iteration, docid, relevance_text = fields
        try:
            relevance = int(relevance_text)
        except ValueError:
            raise QrelsFormatError(name, number, line, "relevance must be an integer") from None
        qrels.setdefault(qid, {})[docid] = relevance
    return qrels


def write_qrels(qrels: Mapping[str, Mapping[str, int]], target: Source) -> None:
    text = "".join(f"{qid} 0 {docid} {int(rel)}\n" for qid, docs in qrels.items() for docid, rel in docs.items())
    if isinstance(target, (str, Path)):
        Path(target).write_text(text, encoding="utf-8")
    else:
        target.write(text)
