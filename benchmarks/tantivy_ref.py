"""The reference engine: tantivy-py over exactly the tokens our analyzers produce.

Each of our text fields (title_th, body_th, ..., body_vi_exact) becomes a tantivy text
field with the whitespace tokenizer, fed the space-joined tokens of our analyzer; a
query is our compiled Whoosh query translated term for term (same fields, same boosts,
same required words). So the comparison is of the engines, not of the analysis.
"""
import shutil
from pathlib import Path

from whoosh import query as Q

from indexer.minmatch import MinShouldMatch
from indexer.schema import all_text_fields


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
        # Entity ids, once per mention (the query's entity expansion matches them).
        builder.add_text_field("entities", stored=False, tokenizer_name="whitespace", index_option="freq")
        for name in all_text_fields():
            builder.add_text_field(name, stored=False, tokenizer_name="whitespace", index_option="position")
        self.schema = builder.build()
        shutil.rmtree(path, ignore_errors=True)
        Path(path).mkdir(parents=True)
        self.path = Path(path)
        self.index = tantivy.Index(self.schema, path=str(path))
        self.writer = self.index.writer(heap_size=heap_mb * 1024 * 1024, num_threads=threads)
        self.searcher = None

    def add(self, doc_id: str, fields: dict[str, str]) -> None:
        """fields: {field name: space-joined tokens}."""
        self.writer.add_document(self.tantivy.Document(id=doc_id, **fields))

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
