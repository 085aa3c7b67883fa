"""Highlighted snippets: escaped HTML whose only markup is <mark>.

The document's own language analyzer re-tokenizes the stored body, so the
offsets (and therefore the marks) are exact in Thai, Chinese and Arabic too.
"""
from html import escape

from whoosh import highlight

SNIPPET_CHARS = 240


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


def make_snippet(body: str, terms: set[str], analyzer, top: int = 2) -> str:
    if terms and body:
        try:
            html = highlight.highlight(body, frozenset(terms), analyzer, _FRAGMENTER, _FORMATTER, top=top)
        except Exception:  # a highlighter failure must never fail a search
            html = ""
        if html:
            return " ".join(html.split())
    return lead(body)
