"""The reference engine: tantivy-py over exactly the tokens our analyzers produce.

Each of our text fields (title_th, body_th, ..., body_vi_exact) becomes a tantivy text
field with the whitespace tokenizer, fed the space-joined tokens of our analyzer; a
query is our compiled Whoosh query translated term for term (same fields, same boosts,
same required words). So the comparison is of the engines, not of the analysis.

page() is what our search page does, done by tantivy: the top 10 with the total count, the
facet counts of every match (a terms aggregation per facet over fast fields: language, source,
year, entity), and each hit's stored title and a highlighted snippet (tantivy's
SnippetGenerator over the hit's body field, which stores the space-joined tokens: a tantivy
user with our analyzers would store and show text that way, or keep offsets of their own).
"""
import shutil
from pathlib import Path

from whoosh import query as Q

from analyzers import field_language
from indexer.minmatch import MinShouldMatch
from indexer.schema import all_text_fields

FACETS = ("lang", "source", "year", "entity")
FACET_SIZE = 10_000     # every value, as our facets count every value

def _clean(term: str) -> str:
    return "_".join(term.split()) or "_"


def join_tokens(tokens) -> str:
    return " ".join(_clean(t) for t in tokens)


class TantivyIndex:
    def __init__(self, path: Path, heap_mb: int = 256, threads: int = 2):
        import tantivy

        self.tantivy = tantivy
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("title", stored=True, tokenizer_name="raw", index_option="basic")
        for name in FACETS:        # facet values, counted by page()'s aggregation
            builder.add_text_field(name, stored=name == "lang", fast=True, tokenizer_name="raw", index_option="basic")
        # Entity ids, once per mention (the query's entity expansion matches them).
        builder.add_text_field("entities", stored=False, tokenizer_name="whitespace", index_option="freq")
        for name in all_text_fields():
            # body fields are stored: page() makes snippets from them
            builder.add_text_field(name, stored=name.startswith("body_"), tokenizer_name="whitespace",
                                   index_option="position")
        self.schema = builder.build()
        shutil.rmtree(path, ignore_errors=True)
        Path(path).mkdir(parents=True)
        self.path = Path(path)
        self.index = tantivy.Index(self.schema, path=str(path))
        self.writer = self.index.writer(heap_size=heap_mb * 1024 * 1024, num_threads=threads)
        self.searcher = None

    def add(self, doc_id: str, fields: dict[str, str], page: dict | None = None) -> None:
        """fields: {field name: space-joined tokens}; page: the title, and the facet values
        (FACETS: a string, or a list for several) that page() shows."""
        self.writer.add_document(self.tantivy.Document(id=doc_id, **fields, **(page or {})))

    def commit(self) -> None:
        self.writer.commit()
        self.writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    # -- queries ---------------------------------------------------------------
    def translate(self, q):
        """Whoosh query (Term, Phrase, Or, And, DisjunctionMax, MinShouldMatch of Ors) → tantivy query."""
        T = self.tantivy
        boost = getattr(q, "boost", 1.0)
        if isinstance(q, Q.Term):
            out = T.Query.term_query(self.schema, q.fieldname, _clean(q.text))
        elif isinstance(q, Q.Phrase):
            out = T.Query.phrase_query(self.schema, q.fieldname, [_clean(w) for w in q.words],
                                       slop=max(0, int(q.slop) - 1))
        elif isinstance(q, Q.DisjunctionMax):    # entity expansion: best of the names
            out = T.Query.disjunction_max_query([self.translate(s) for s in q.subqueries],
                                                float(getattr(q, "tiebreak", 0.0)))
        elif isinstance(q, MinShouldMatch) and q.minmatch >= len(q.subqueries):
            out = T.Query.boolean_query([(T.Occur.Must, self.translate(s)) for s in q.subqueries])
        elif isinstance(q, Q.Or):   # MinShouldMatch with fewer required: ranked as an Or
            out = T.Query.boolean_query([(T.Occur.Should, self.translate(s)) for s in q.subqueries])
        elif isinstance(q, Q.And):
            out = T.Query.boolean_query([(T.Occur.Must, self.translate(s)) for s in q.subqueries])
        else:
            raise TypeError(f"no tantivy translation for {type(q).__name__}")
        return T.Query.boost_query(out, boost) if boost != 1.0 else out

    def search(self, query, k: int = 10) -> list[str]:
        result = self.searcher.search(query, limit=k)
        return [self.searcher.doc(addr)["id"][0] for _, addr in result.hits]

    def page(self, query, k: int = 10) -> dict:
        """Our search page's work (see the module's docstring): total, facets, hits with snippets."""
        searcher = self.searcher
        result = searcher.search(query, limit=k, count=True)
        buckets = searcher.aggregate(query, {name: {"terms": {"field": name, "size": FACET_SIZE}} for name in FACETS})
        facets = {name: {b["key"]: b["doc_count"] for b in buckets[name]["buckets"]} for name in FACETS}
        generators, hits = {}, []
        for _, addr in result.hits:
            doc = searcher.doc(addr)
            field = f"body_{field_language(doc['lang'][0] if doc.get_all('lang') else None)}"
            if field not in generators:
                generators[field] = self.tantivy.SnippetGenerator.create(searcher, query, self.schema, field)
            snippet = generators[field].snippet_from_doc(doc).to_html()
            hits.append((doc["id"][0], (doc.get_all("title") or [""])[0], snippet))
        return {"total": result.count, "facets": facets, "hits": hits}
