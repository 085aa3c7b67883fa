"""Articles cut into passages that fit the dense model's window.

A passage is the article's title (when it has a real one) followed by a run of whole
paragraphs, or of sentence-sized pieces of a paragraph too long on its own. e5 reads at most
512 tokens; a news article is usually 1-4 passages. Only the first MAX_PASSAGES_PER_ARTICLE are
embedded: that bounds the indexing cost of very long documents, whose later text is still found
by the lexical index.
"""
import hashlib

import regex

from .article import Article

PASSAGE_TOKENS = 448          # leaves room for the "passage: " prefix and special tokens
MAX_PASSAGES_PER_ARTICLE = 8
# Where a long paragraph may be cut: after sentence punctuation, in any of the scripts we index.
_SENTENCE_END = regex.compile(r"(?<=[.!?;。！？；।۔؟])\s+|(?<=[。！？；])")
_SPACE = regex.compile(r"\s")


def passage_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _pieces(paragraph: str, count_tokens, budget: int) -> list[str]:
    """The paragraph, or pieces of it within budget: whole sentences where possible."""
    cuts = [m.end() for m in _SENTENCE_END.finditer(paragraph)] + [len(paragraph)]
    pieces, start = [], 0
    while start < len(paragraph):
        if count_tokens(paragraph[start:]) <= budget:
            pieces.append(paragraph[start:])
            break
        end = None
        for cut in (c for c in cuts if c > start):
            if count_tokens(paragraph[start:cut]) > budget:
                break
            end = cut
        if end is None:
            # One sentence over budget (or unpunctuated text, e.g. Thai): cut in proportion,
            # backing off to a space when there is one in the second half.
            cut = next(c for c in cuts if c > start)
            end = start + max(16, (cut - start) * budget // max(1, count_tokens(paragraph[start:cut])))
            space = max((m.start() for m in _SPACE.finditer(paragraph, (start + end) // 2, end)), default=None)
            end = space + 1 if space else end
        pieces.append(paragraph[start:end])
        start = end
    return [p.strip() for p in pieces if p.strip()]


def article_passages(article: Article, count_tokens, budget: int = PASSAGE_TOKENS,
                     limit: int = MAX_PASSAGES_PER_ARTICLE) -> list[str]:
    """The texts to embed for an article, in order (never empty for an article with text)."""
    title = "" if article.title_derived else article.title.strip()
    head = f"{title}\n" if title else ""
    room = max(64, budget - (count_tokens(head) if head else 0))
    passages: list[str] = []
    current: list[str] = []
    used = 0
    for paragraph in (p.strip() for p in article.body.split("\n")):
        if not paragraph:
            continue
        for piece in _pieces(paragraph, count_tokens, room):
            n = count_tokens(piece)
            if current and used + n > room:
                passages.append(head + "\n".join(current))
                if len(passages) >= limit:
                    return passages
                current, used = [], 0
            current.append(piece)
            used += n
    if current or not passages:
        passages.append(head + "\n".join(current) if current else title)
    return [p for p in passages[:limit] if p.strip()]
