"""Highlighted snippets: escaped HTML whose only markup is <mark>.

The document's own language analyzer re-tokenizes the stored body, so the
offsets (and therefore the marks) are exact in Thai, Chinese and Arabic too. Thai and
Chinese bodies indexed with their word spans (indexer/wordspans.py) are not re-tokenized:
the words the indexer found are looked up.
"""
import re
from functools import lru_cache
from html import escape

import numpy as np
import regex

from whoosh import highlight

from analyzers.normalize import fold_diacritics, normalize_arabic, to_simplified_same_length

from .wordspans import decode_spans

SNIPPET_CHARS = 240
# Re-analyzing a whole body for its snippet was 85% of a search (newmm/jieba on ~4k chars,
# ten times a page). Instead: find where the query's terms probably occur by a plain search
# of the folded text (likely_matches), and check those places by analyzing a few dozen
# characters around them (nearby places together); the first confirmed place starts the
# snippet, and the places checked inside it are its marks. A body with no confirmed place gets
# its lead, unanalyzed. Before, a 320-char window around the first confirmed place was analyzed
# again for Whoosh's highlighter (60% of the snippet time): 1.35 -> 0.6 ms per snippet at 10k.
SCAN_CHARS = 320        # bodies up to this long are highlighted whole
SURROUND_CHARS = 80     # shown before the first mark
CONFIRM_CHARS = 24      # context on each side of a probe hit: enough for the segmenters to agree
MAX_PROBE_HITS = 32     # places checked per body, at most (and as many for one-letter probes)
SCAN_WINDOW = 400       # body characters searched for probe hits at a time (_ProbeScan)
# ISRI stems are roots, often not substrings of the word (حالة → حله): a short Arabic probe
# allows a long vowel between its letters (_ROOT_INFIX), and for Arabic terms a body where no
# probe hit was confirmed still has its start analyzed, if Arabic letters are there.
ROOT_FALLBACK_CHARS = 600
MAX_WORD_CHARS = 64     # stored words starting this far before a probe hit are not checked
_ARABIC_LETTER = regex.compile(r"[\u0620-\u064A\u066E-\u06D3\u06FA-\u06FF]")


class MarkFormatter(highlight.HtmlFormatter):
    """<mark>term</mark>, everything escaped, fragments joined by an ellipsis."""

    def __init__(self):
        super().__init__(tagname="mark", between=" … ")

    def format_token(self, text, token, replace=False):
        return "<mark>%s</mark>" % escape(highlight.get_text(text, token, replace), quote=False)

    def _text(self, text):
        return escape(text, quote=False)


_FORMATTER = MarkFormatter()
_FRAGMENTER = highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=80)


def lead(body: str, chars: int = SNIPPET_CHARS) -> str:
    """The start of the body, escaped: the snippet when no term can be highlighted."""
    # Its whitespace collapsed from a prefix, which collapses to a prefix of the whole body's
    # (its last word perhaps cut): enough once it is longer than chars. Collapsing a whole body
    # cost 25-40 µs, for the half of a hybrid page's hits at 100k whose snippet is their lead.
    text = " ".join(body[:4 * chars].split())
    if len(text) <= chars and len(body) > 4 * chars:
        text = " ".join(body.split())
    if len(text) > chars:
        text = text[:chars].rsplit(" ", 1)[0] if " " in text[:chars] else text[:chars]
        text += " …"
    return escape(text, quote=False)


def _letter_variants() -> dict[str, str]:
    """Folded letter → every character that folds to it, in either case: accented Latin, Greek
    and Cyrillic letters as fold_diacritics folds them (except its one-to-two folds such as
    ß → ss), Arabic letter forms as normalize_arabic folds them."""
    variants: dict[str, set[str]] = {}
    for code in list(range(0x41, 0x5B)) + list(range(0x61, 0x7B)) + list(range(0xC0, 0x500)) \
            + list(range(0x1E00, 0x1F00)):
        ch = chr(code)
        base = fold_diacritics(ch).lower()
        if len(base) == 1:
            variants.setdefault(base, {base}).add(ch)
    for ch in "\u0622\u0623\u0624\u0625\u0626\u0629\u0649\u0671\u0672\u0673\u06A9\u06C0\u06CC":
        base = normalize_arabic(ch)
        variants.setdefault(base, {base}).add(ch)
    return {base: "".join(sorted(chars)) for base, chars in variants.items()}


_VARIANTS = _letter_variants()
# What the folding drops may stand between two letters: combining accents (text typed
# decomposed), tashkeel and tatweel.
_DROPPED = r"[\u0300-\u036f\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]*"
# An Arabic stem of up to four letters is mostly a root, which a word spells with a long vowel
# or a hamza's seat between its letters (نشد: النشيد, قرن: القرون, اسا: آسيا): such a probe
# allows one of them between each two letters.
MAX_ROOT_LETTERS = 4
_ROOT_INFIX = "(?:[\u0627\u0622\u0623\u0625\u0648\u0624\u064A\u0626\u0649]" + _DROPPED + ")?"


def _fold(term: str) -> str:
    return normalize_arabic(fold_diacritics(term.lower()))


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def _probe(term: str) -> str:
    probe = _fold(term)
    return probe[:-2] if len(probe) > 4 else probe    # Porter/ISRI stems: "diplomaci" ~ "diplomacy"


def _probe_pattern(probe: str) -> str:
    """The probe as a regex over raw text: any accented or Arabic form of each letter, either
    case, with dropped marks allowed between letters; a Latin-script probe starts a word
    ("art" inside "party" is not worth confirming)."""
    letters = [f"[{regex.escape(_VARIANTS[ch])}]" if ch in _VARIANTS else regex.escape(ch) for ch in probe]
    joint = _DROPPED
    if len(probe) <= MAX_ROOT_LETTERS and all(_is_arabic(ch) for ch in probe):
        joint = _DROPPED + _ROOT_INFIX
    pattern = joint.join(letters)
    if probe[:1].isascii() and probe[:1].isalnum():
        pattern = r"(?<![\p{L}\p{N}\p{M}])" + pattern
    return pattern


@lru_cache(maxsize=512)
def _first_letters(terms: frozenset) -> re.Pattern | None:
    """The characters a probe hit can start with (each probe's first letter, in every form), as
    a plain character class: a body with none of them has no hit, which one search for the class
    tells several times faster than the probes' scan finds nothing (11-17 against ~70 µs a
    body). Half of a hybrid page's hits at 100k are such bodies: a query's terms in another
    script (a Thai query's words in a Chinese article found by the dense list)."""
    firsts = set()
    for probe in map(_probe, terms):
        if probe:
            firsts.update(_VARIANTS.get(probe[0], probe[0]))
    return re.compile("[" + "".join(map(re.escape, sorted(firsts))) + "]") if firsts else None


@lru_cache(maxsize=512)
def _probes(terms: frozenset) -> tuple:
    """(one pattern for every term's probe, or None; the kinds of probe there are: one letter
    (False) and longer (True), whose hits _ProbeScan counts apart)."""
    probes = sorted({p for p in map(_probe, terms) if p}, key=len, reverse=True)
    pattern = regex.compile("|".join(_probe_pattern(p) for p in probes)) if probes else None
    return pattern, frozenset(len(p) > 1 for p in probes)


class _ProbeScan:
    """Where the query's terms probably occur in a body (likely_matches), found a window at a
    time, as events for _runs: (offset, True) for each hit, in order, and (offset, False) once
    the scan has passed that offset. Scanning ends at the body's end, after MAX_PROBE_HITS
    hits of each kind of probe, or at stop_at, which the caller may lower as it goes: a snippet
    needs only the hits up to the end of its window, and the scan of the whole body was ~half
    of a snippet's time at 10k articles (74 µs of 156; the first hit alone: 26 µs)."""

    def __init__(self, body: str, terms):
        terms = frozenset(terms)
        self.pattern, self.kinds = _probes(terms)
        if self.pattern is not None and any(_is_han(t[:1]) for t in terms):
            body = to_simplified_same_length(body)   # the index folds Traditional Chinese
        if self.pattern is not None and _first_letters(terms).search(body) is None:
            self.pattern = None                      # no probe can start anywhere in it
        self.body = body
        self.stop_at = len(body)
        # a match may run past its window's end by its probe's letters and the marks between them
        self.slack = 4 * max((len(t) for t in terms), default=0) + 16

    def __iter__(self):
        if self.pattern is None:
            return
        body, pos = self.body, 0
        # hits of one-letter probes counted apart: a Thai query cut into a stray letter (ทำนา|กอ|น)
        # hits all over a body, and used up the budget before the query's words were reached
        counts = [0, 0]           # [one letter, longer]
        while pos < min(self.stop_at, len(body)):
            end = pos + SCAN_WINDOW
            # overlapped: one match per start, in order; the next window finds those from `end`
            for m in self.pattern.finditer(body, pos, min(len(body), end + self.slack), overlapped=True):
                if m.start() >= end:
                    break
                longer = m.end() - m.start() > 1
                if counts[longer] < MAX_PROBE_HITS:
                    counts[longer] += 1
                    yield m.start(), True
                    if all(counts[kind] >= MAX_PROBE_HITS for kind in self.kinds):
                        return
            pos = end
            yield pos, False


def likely_matches(body: str, terms) -> list[int]:
    """Offsets in the body where a term probably occurs, in order (at most MAX_PROBE_HITS for
    one-letter probes and as many for longer ones): every occurrence of each term's probe (the
    folded term, stems by their first letters), found in the raw text by a pattern that matches
    every form folding to it (folding the whole body first cost as much as the rest of the
    snippet). Only a hint: a false hit is dropped by _checked_marks, a miss costs the highlight."""
    return [at for at, hit in _ProbeScan(body, terms) if hit]


def _checked_marks(body: str, scan, terms: frozenset, analyzer):
    """For runs of nearby probe hits: (first hit, spans of the term tokens the analyzer finds at
    the hits). One analysis covers a run: its words, where the text has spaces, else from
    CONFIRM_CHARS before its first hit to twice that after its last, enough context for the
    segmenters to cut the words at the hits as they do in the whole body (_words_around). Only a
    token at a hit counts (the context's edges may cut words)."""
    reach = max(map(len, terms), default=0)
    for run in _runs(scan):
        start, end = _words_around(body, run[0], run[-1] + reach)
        text = body[start:end]
        spans = []
        try:
            for t in analyzer(text, mode="query", chars=True, removestops=False):
                if t.text in terms:
                    s, e = start + t.startchar, start + t.endchar
                    if any(s <= at < e for at in run):
                        spans.append((s, e))
        except Exception:  # a snippet must never fail a search
            spans = []
        yield run[0], spans


def _words_around(body: str, first: int, last: int) -> tuple[int, int]:
    """What _checked_marks analyzes for hits from first to last: from the space before the first
    to the space after the last, where the text has spaces near them (each word is then whole,
    and the analyzers cut no token across a space); else CONFIRM_CHARS before the first and
    twice that after the last, context for the segmenters of unspaced text."""
    before = body.rfind(" ", max(0, first - MAX_WORD_CHARS), first)
    after = body.find(" ", last, last + MAX_WORD_CHARS)
    if before < 0 and first > MAX_WORD_CHARS or after < 0 and last + MAX_WORD_CHARS < len(body):
        return max(0, first - CONFIRM_CHARS), last + 2 * CONFIRM_CHARS
    return before + 1, after if after >= 0 else len(body)


def _runs(scan):
    """Nearby probe hits together, from a _ProbeScan's events: what one analysis covers (see
    _checked_marks). A run is complete once a hit, or the scan, is too far past it."""
    run: list[int] = []
    for at, hit in scan:
        if run and (at - run[-1] >= 3 * CONFIRM_CHARS or at - run[0] >= SNIPPET_CHARS):
            yield run
            run = []
        if hit:
            run.append(at)
    if run:
        yield run


def _word_text(analyzer, word: str) -> str | None:
    """The indexed text of one word the indexer found (its filters, not its tokenizer)."""
    for t in analyzer(word, tokenize=False, mode="index", removestops=False):
        return t.text
    return None


def _stored_marks(body: str, scan, terms: frozenset, analyzer, spans: bytes):
    """_checked_marks from the words stored at indexing (indexer/wordspans.py): per run of
    probe hits, the stored words that contain a hit and index as a term. The whole body's
    segmentation, where _checked_marks segments a window of it again."""
    try:
        starts, ends = decode_spans(spans)
    except (ValueError, TypeError, IndexError):      # not spans: a snippet must never fail a search
        yield from _checked_marks(body, scan, terms, analyzer)
        return
    for run in _runs(scan):
        found = []
        for at in run:
            k = int(np.searchsorted(starts, at, side="right")) - 1    # the last word starting by `at`
            while k >= 0 and starts[k] > at - MAX_WORD_CHARS:
                if ends[k] > at:
                    s, e = int(starts[k]), int(ends[k])
                    try:
                        if _word_text(analyzer, body[s:e]) in terms:
                            found.append((s, e))
                    except Exception:  # a snippet must never fail a search
                        pass
                k -= 1
        yield run[0], found


def _bounds(body: str, first: int) -> tuple[int, int]:
    """The SNIPPET_CHARS shown for a first mark at `first`: some context before it, cut at spaces."""
    start = max(0, first - SURROUND_CHARS)
    if start > 0:
        space = body.find(" ", start, first)
        start = space + 1 if space >= 0 else start
    end = min(len(body), start + SNIPPET_CHARS)
    if end < len(body):
        space = body.rfind(" ", first, end)
        end = space if space > first else end
    return start, end


def _marked(body: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    out, pos = [], start
    for s, e in sorted(set(spans)):
        if s < pos or e > end:
            continue              # overlaps the previous mark, or runs past the end
        out += [escape(body[pos:s], quote=False), "<mark>", escape(body[s:e], quote=False), "</mark>"]
        pos = e
    out.append(escape(body[pos:end], quote=False))
    return "".join(out)


def _fragment(body: str, terms: frozenset, analyzer, words: bytes | None = None) -> str:
    """The marked text around the first place the analyzer confirms a term, or "" (words: the
    body's stored word spans, which confirm instead)."""
    bounds, spans = None, []
    scan = _ProbeScan(body, terms)
    places = _stored_marks(body, scan, terms, analyzer, words) if words else _checked_marks(body, scan, terms, analyzer)
    for first_hit, found in places:
        if bounds is not None and first_hit >= bounds[1]:
            break
        if found and bounds is None:
            bounds = _bounds(body, min(s for s, _ in found))
            # runs starting in the window may reach SNIPPET_CHARS past it; none later counts
            scan.stop_at = bounds[1] + SNIPPET_CHARS
        spans += found
    return _marked(body, *bounds, spans) if bounds is not None else ""


def _is_arabic(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff"


def _root_fallback(body: str, terms: frozenset, analyzer, top: int) -> str:
    """Marks for Arabic roots in the body's start. Only where that start has Arabic letters:
    a Chinese article matched by an Arabic query (through another word or the dense list) has
    none, and analyzing its 600 characters cost ~16 ms, for nothing."""
    start = body[:ROOT_FALLBACK_CHARS]
    if not any(_is_arabic(t[:1]) for t in terms) or not _ARABIC_LETTER.search(start):
        return ""
    return _highlight(start, terms, analyzer, top)


def _highlight(text: str, terms: frozenset, analyzer, top: int) -> str:
    try:
        return highlight.highlight(text, terms, analyzer, _FRAGMENTER, _FORMATTER, top=top)
    except Exception:  # a highlighter failure must never fail a search
        return ""


def make_snippet(body: str, terms: set[str], analyzer, top: int = 2, spans: bytes | None = None) -> str:
    """spans: the body's word spans stored at indexing (Thai and Chinese), if there are."""
    if terms and body:
        terms = frozenset(terms)
        if len(body) <= SCAN_CHARS:
            html = _highlight(body, terms, analyzer, top)
        else:
            html = _fragment(body, terms, analyzer, spans) or _root_fallback(body, terms, analyzer, top)
        if html:
            return " ".join(html.split())
    return lead(body)
