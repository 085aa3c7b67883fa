"""Highlighted snippets: escaped HTML whose only markup is <mark>.

The document's own language analyzer re-tokenizes the stored body, so the
offsets (and therefore the marks) are exact in Thai, Chinese and Arabic too.
"""
from html import escape

import regex

from whoosh import highlight

from analyzers.normalize import fold_diacritics, normalize_arabic, to_simplified_same_length

SNIPPET_CHARS = 240
# Re-analyzing a whole body for its snippet was 85% of a search (newmm/jieba on ~4k chars,
# ten times a page). Instead: find where the query's terms probably occur by a plain search
# of the folded text (likely_matches), confirm each such place by analyzing a few dozen
# characters around it, and analyze only a window around the first confirmed one (the
# fragmenter shows at most SNIPPET_CHARS of it). A body with no confirmed place gets its
# lead, unanalyzed. Before, only each term's first probe hit was tried and then the body's
# first 600-2,000 chars were analyzed "just in case": at 10k articles that fallback was a third
# of the snippet time and found a term in 12% of the bodies. Now: 2.4 -> 1.35 ms per snippet,
# as many snippets with marks (1,389 of 1,874 vs 1,388).
SCAN_CHARS = 320   # the window analyzed around a confirmed place: 80 chars before it, 240 after
CONFIRM_CHARS = 24      # context on each side of a probe hit: enough for the segmenters to agree
MAX_PROBE_HITS = 32     # places confirmed per body, at most
MAX_WINDOWS = 3
# ISRI stems are roots, often not substrings of the word (حالة → حله): for Arabic terms, a body
# where no probe hit was confirmed still has its start analyzed.
ROOT_FALLBACK_CHARS = 600


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
    text = " ".join(body.split())
    if len(text) > chars:
        text = text[:chars].rsplit(" ", 1)[0] if " " in text[:chars] else text[:chars]
        text += " …"
    return escape(text, quote=False)


# Only text with such characters needs the (NFD/NFC) accent folding or the Arabic folding: a
# Thai or Chinese body skips both (they were a quarter of the snippet time).
_ACCENTED = regex.compile(r"[\u00c0-\u04ff\u1e00-\u1eff]")
_ARABIC = regex.compile(r"[\u0600-\u06ff]")


def _fold(text: str) -> str:
    text = text.lower()
    if text.isascii():
        return text
    if _ACCENTED.search(text):
        text = fold_diacritics(text)
    return normalize_arabic(text) if _ARABIC.search(text) else text


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def _probe(term: str) -> str:
    probe = _fold(term)
    return probe[:-2] if len(probe) > 4 else probe    # Porter/ISRI stems: "diplomaci" ~ "diplomacy"


def likely_matches(body: str, terms) -> list[int]:
    """Offsets in the raw body where a term probably occurs, in order: every occurrence of
    each term's probe (the folded term, stems by their first letters) in the folded body.
    Only a hint: a false hit is dropped by _confirmed, a miss costs the highlight."""
    if any(_is_han(t[:1]) for t in terms):
        body = to_simplified_same_length(body)   # the index folds Traditional Chinese
    folded = _fold(body)
    found = set()
    for term in terms:
        probe = _probe(term)
        # A Latin-script term starts a word: "art" inside "party" is not worth confirming.
        word_start = probe[:1].isascii() and probe[:1].isalnum()
        at = folded.find(probe) if probe else -1
        while at >= 0 and len(found) < 4 * MAX_PROBE_HITS:
            if not (word_start and at and folded[at - 1].isalnum()):
                found.add(at)
            at = folded.find(probe, at + len(probe))
    return sorted(found)[:MAX_PROBE_HITS]


def _confirmed(body: str, at: int, terms: frozenset, analyzer) -> bool:
    """Does the analyzer produce one of the terms near offset at (a cheap check of a probe hit)?"""
    text = body[max(0, at - CONFIRM_CHARS): at + 2 * CONFIRM_CHARS]
    try:
        return any(t.text in terms for t in analyzer(text, mode="query", removestops=False))
    except Exception:
        return False


def _highlight(text: str, terms: frozenset, analyzer, top: int) -> str:
    try:
        return highlight.highlight(text, terms, analyzer, _FRAGMENTER, _FORMATTER, top=top)
    except Exception:  # a highlighter failure must never fail a search
        return ""


def _window(body: str, at: int) -> str:
    start = max(0, at - SCAN_CHARS // 4)
    end = min(len(body), start + SCAN_CHARS)
    # Start and end at a space when there is one nearby, not inside a word.
    if start > 0:
        space = body.find(" ", start, at)
        start = space + 1 if space >= 0 else start
    if end < len(body):
        space = body.rfind(" ", at, end)
        end = space if space >= 0 else end
    return body[start:end]


def make_snippet(body: str, terms: set[str], analyzer, top: int = 2) -> str:
    if terms and body:
        terms = frozenset(terms)
        if len(body) <= SCAN_CHARS:
            html = _highlight(body, terms, analyzer, top)
        else:
            html, windows, covered = "", 0, -1
            for at in likely_matches(body, terms):
                if at < covered or not _confirmed(body, at, terms, analyzer):
                    continue
                html = _highlight(_window(body, at), terms, analyzer, top)
                windows += 1
                if html or windows >= MAX_WINDOWS:
                    break
                covered = at + SCAN_CHARS // 2
            if not html and not windows and any("\u0600" <= t[:1] <= "\u06ff" for t in terms):
                html = _highlight(body[:ROOT_FALLBACK_CHARS], terms, analyzer, top)
        if html:
            return " ".join(html.split())
    return lead(body)
