"""Query suggestions: names of the lexicon's entities completing what the user has typed.

Typing "hai p", "ไฮ" or "海" offers Hải Phòng, ไฮฟอง, 海防 ...: the names the cross-language
expansion knows, so a suggestion always searches every language. Matching ignores case,
accents and Traditional/Simplified differences (fold_text).
"""
import bisect
from functools import lru_cache

from analyzers.lexicon import get_lexicon
from analyzers.normalize import fold_text

MAX_SUGGESTIONS = 8


@lru_cache(maxsize=1)
def _names() -> tuple[list[str], list[str]]:
    """Folded names (sorted) and their display forms, over every entity but block phrases."""
    lexicon = get_lexicon()
    pairs = set()
    for entity_id in lexicon.ids():
        entity = lexicon.get(entity_id)
        if entity.type == "block":
            continue
        for lang, names in lexicon.expansions(entity_id).items():
            for name in names:
                pairs.add((fold_text(name).casefold(), name))
    ordered = sorted(pairs)
    return [f for f, _ in ordered], [n for _, n in ordered]


def suggest(prefix: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
    key = fold_text(" ".join(prefix.split())).casefold()
    if not key:
        return []
    folded, display = _names()
    out: list[str] = []
    i = bisect.bisect_left(folded, key)
    while i < len(folded) and folded[i].startswith(key) and len(out) < limit:
        if display[i] not in out:
            out.append(display[i])
        i += 1
    return out
