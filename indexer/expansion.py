"""Query expansion with the multilingual entity lexicon.

A query naming an entity (ไฮฟอง) also searches for its names in the other languages
(海防, Hải Phòng, Haiphong, هاي فونغ ...) as phrases in those languages' fields, and for the
entity's id in the `entities` field, whose term frequency is how often an article mentions
it in any script. The expansion weighs as much as the share of the query the entity names:
a query that is just a place name is all about it, a question that mentions a country in
passing is mostly about something else.
"""
from whoosh import query as Q

from analyzers import FIELD_LANGUAGES, field_language
from analyzers.lexicon import get_lexicon

from .query import field_analyzer, phrase_clauses

EXPANSION_WEIGHT = 1.0       # of a query that is only the entity's name
ENTITY_FIELD_WEIGHT = 1.0    # the language-neutral `entities` match, relative to a name match
MIN_SHARE = 0.15             # a passing mention still counts a little
MAX_ENTITIES = 4             # caps the work: each entity adds up to a few dozen phrase clauses
MAX_NAMES_PER_LANGUAGE = 4


def query_entities(text: str) -> list[tuple[str, float]]:
    """(entity id, share of the query's characters its mentions cover), in order of mention."""
    stripped = "".join(text.split())
    if not stripped:
        return []
    covered: dict[str, int] = {}
    for mention in get_lexicon().find(text):
        if len(covered) >= MAX_ENTITIES and mention.entity_id not in covered:
            break
        covered[mention.entity_id] = covered.get(mention.entity_id, 0) + len("".join(mention.surface.split()))
    return [(eid, min(1.0, n / len(stripped))) for eid, n in covered.items()]


def expansion_query(entities: list[tuple[str, float]], query_lang: str | None = None) -> Q.Query | None:
    """Other-language names and the entity ids of the query's entities (from query_entities), or None."""
    lexicon = get_lexicon()
    native = field_language(query_lang) if query_lang else None
    clauses: list[Q.Query] = []
    for entity_id, share in entities:
        weight = EXPANSION_WEIGHT * max(MIN_SHARE, share)
        name_clauses: list[Q.Query] = []
        by_field: dict[str, list[str]] = {}
        for lang, names in lexicon.expansions(entity_id).items():
            flang = field_language(lang)
            if flang == native:  # the query's own words already search its own language
                continue
            by_field.setdefault(flang, []).extend(names[:MAX_NAMES_PER_LANGUAGE])
        for flang in FIELD_LANGUAGES:
            seen = set()
            for name in by_field.get(flang, []):
                words = tuple(t.text for t in field_analyzer(flang)(name, mode="query"))
                if words and words not in seen:
                    seen.add(words)
                    name_clauses += phrase_clauses(list(words), flang, weight)
        entity = Q.Term("entities", entity_id, boost=weight * ENTITY_FIELD_WEIGHT)
        # Several spellings in one article are one piece of evidence, not several.
        clauses.append(Q.Or([entity, Q.DisjunctionMax(name_clauses, tiebreak=0.1)])
                       if name_clauses else entity)
    if not clauses:
        return None
    return Q.Or(clauses) if len(clauses) > 1 else clauses[0]
