"""A document's positional fields pooled in C (indexer/docwriter.py) give the segment Whoosh's
loop gives: the same terms, statistics, posting bytes, field lengths and stored word spans."""
from contextlib import nullcontext

import pytest
from whoosh import index as whoosh_index

from benchmarks import corpus_gen
from indexer import build, csegment, postingpool, store
from test_termwriter import _terms      # per segment and term: its statistics and posting bytes


def _documents(index_dir) -> list[tuple]:
    gen_dir = store.generation_dir(index_dir, store.current_generation(index_dir))
    with whoosh_index.open_dir(str(gen_dir)).searcher() as searcher:
        reader = searcher.reader()
        out = []
        for doc in reader.all_doc_ids():
            stored = reader.stored_fields(doc)
            lengths = {f: reader.doc_field_length(doc, f) for f in searcher.schema.scorable_names()}
            out.append((stored["id"], sorted(stored.items()), sorted(lengths.items())))
        return sorted(out)


def test_fields_pooled_in_c_make_whooshs_segment(tmp_path, monkeypatch):
    try:
        path, _ = csegment.build(tmp_path / "lib")
    except csegment.BuildError as exc:
        pytest.skip(f"indexer/csegment not buildable here: {exc}")
    module = csegment.load_module(path)
    monkeypatch.setattr(csegment, "load", lambda directory=None: module)
    corpus = corpus_gen.generate(300, tmp_path / "corpus", seed=8, procs=1)
    fields_in_c = []

    class Counting(postingpool.CompiledPostingPool):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            add_field = self.add_field
            self.add_field = lambda *a: fields_in_c.append(a[0]) or add_field(*a)

    monkeypatch.setattr(postingpool, "posting_pool_class", lambda: Counting)
    build.build_index(corpus, tmp_path / "c", procs=1, vectors=False)
    monkeypatch.setattr(build, "pooling_fields_in_c", nullcontext)
    build.build_index(corpus, tmp_path / "whoosh", procs=1, vectors=False)
    assert len(fields_in_c) > 300 and {f.split("_")[0] for f in fields_in_c} == {"title", "body"}
    assert _terms(tmp_path / "c") == _terms(tmp_path / "whoosh")
    documents = _documents(tmp_path / "c")
    assert any("body_spans" in dict(stored) for _, stored, _ in documents)    # Thai and Chinese bodies
    assert documents == _documents(tmp_path / "whoosh")
