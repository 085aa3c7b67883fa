"""Highlighted snippets: escaped HTML whose only markup is <mark>.

The document's own language analyzer re-tokenizes the stored body, so the
offsets (and therefore the marks) are exact in Thai, Chinese and Arabic too.
"""
from html import escape

from whoosh import highlight

from analyzers.normalize import fold_diacritics, normalize_arabic

SNIPPET_CHARS = 240
# Re-analyzing a whole body for its snippet was 85% of a search (newmm/jieba on ~4k chars,
# ten times a page): only a window around the first likely match is analyzed (the
# fragmenter shows at most SNIPPET_CHARS of it), else the body's start: 2,000 chars when
# some term was seen (a probe can hit inside another word), 600 when none was (dense hits
# often share no word with the query: 2,000 chars for nothing was half of a hybrid search).
SCAN_CHARS = 400
FALLBACK_CHARS = 2000
UNSEEN_FALLBACK_CHARS = 600
MAX_WINDOWS = 3


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


def _fold(text: str) -> str:
    return normalize_arabic(fold_diacritics(text.lower()))


def likely_matches(body: str, terms) -> list[int]:
    """Approximate offsets of the first occurrence of each term in the raw body: a plain
    search of the folded text for the term (stems by their first letters). Only a hint:
    a miss or a false hit costs a full analysis, never a wrong mark."""
    folded = _fold(body)
    found = set()
    for term in terms:
        probe = _fold(term)
        if len(probe) > 4:
            probe = probe[:-2]      # Porter/ISRI stems: "diplomaci" ~ "diplomacy"
        at = folded.find(probe) if probe else -1
        if at >= 0:
            found.add(at)
    return sorted(found)


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
        html, fallback = "", FALLBACK_CHARS
        if len(body) > SCAN_CHARS:
            seen = likely_matches(body, terms)
            fallback = FALLBACK_CHARS if seen else UNSEEN_FALLBACK_CHARS
            for at in seen[:MAX_WINDOWS]:
                html = _highlight(_window(body, at), terms, analyzer, top)
                if html:
                    break
        if not html:
            html = _highlight(body[:fallback], terms, analyzer, top)
        if html:
            return " ".join(html.split())
    return lead(body)
