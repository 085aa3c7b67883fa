"""The engine's scoring (whole posting lists with numpy, field lengths in memory) finds the
same documents with the same scores as Whoosh's own matchers.

A generated multilingual corpus is indexed by two worker processes into several segments, then
updated in place (so a segment has deleted documents). Every match of every query, with its
score, is compared with what Whoosh's matcher tree gives document by document.
"""
import json
import math

import numpy as np
import pytest
from whoosh import query as Q
from whoosh.scoring import BM25F

from benchmarks import corpus_gen
from indexer.arrayscore import matching_docnums, score_all
from indexer.build import build_index
from indexer.engine import BM25_B, BM25_K1, SearchEngine
from indexer.minmatch import MinShouldMatch


@pytest.fixture(scope="module")
def generated_engine(tmp_path_factory):
    corpus = corpus_gen.generate(260, tmp_path_factory.mktemp("gen-corpus"), seed=11)
    index_dir = tmp_path_factory.mktemp("gen-index")
    build_index(corpus, index_dir, rebuild=True, procs=2, vectors=False)
    # Drop every 7th article and rewrite every 11th: the next build deletes them from their segments.
    for shard in sorted(corpus.glob("*.jsonl")):
        kept = []
        for n, line in enumerate(shard.read_text(encoding="utf-8").splitlines()):
            if n % 7 == 3:
                continue
            if n % 11 == 5:
                article = json.loads(line)
                article["body"] += " " + article["title"]
                line = json.dumps(article, ensure_ascii=False)
            kept.append(line)
        shard.write_text("\n".join(kept) + "\n", encoding="utf-8")
    build_index(corpus, index_dir, vectors=False)
    return SearchEngine(index_dir)


def whoosh_scores(searcher, query) -> dict[int, float]:
    """docnum → score, from Whoosh's matchers advanced document by document."""
    out = {}
    for subsearcher, offset in searcher.leaf_searchers():
        m = query.matcher(subsearcher, searcher.context(needs_current=True))
        while m.is_active():
            out[m.id() + offset] = m.score()
            m.next()
    return out


def expected_scores(searcher, query) -> dict[int, float]:
    """whoosh_scores, except that an exclusion excludes: Whoosh's AndNotMatcher keeps a
    segment's first match of `a` when `b` starts before it."""
    if isinstance(query, Q.AndNot):
        excluded = set(whoosh_scores(searcher, query.b))
        return {d: s for d, s in expected_scores(searcher, query.a).items() if d not in excluded}
    return whoosh_scores(searcher, query)


def has(query, kind) -> bool:
    return isinstance(query, kind) or any(has(q, kind) for q in getattr(query, "subqueries", ()) or ())


def test_lengths_are_read_into_memory(generated_engine):
    searcher = generated_engine.generation.searcher()
    leaves = searcher.reader().leaf_readers()
    assert len(leaves) >= 2
    assert any(leaf.has_deletions() for leaf, _ in leaves)
    for leaf, _ in leaves:
        lengths = {k: v for k, v in leaf._perdoc._readers.items() if k.endswith("_len")}
        assert lengths and all(isinstance(v, bytes) and len(v) == leaf.doc_count_all()
                               for v in lengths.values())


def queries(engine):
    """The benchmark's query mix, the same words as phrases and exclusions, and phrases cut
    out of the articles themselves (so that they match)."""
    mix = [text for _, text in corpus_gen.query_mix(per_lang=8)]
    words = [w for text in mix for w in text.split()][:40]
    extra = [f'"{a} {b}"' for a, b in zip(words[::2], words[1::2])][:8]
    extra += [f"{a} -{b}" for a, b in zip(words[::3], words[1::3])][:8]
    searcher = engine.generation.searcher()
    for docnum in list(searcher.reader().all_doc_ids())[:30:3]:
        body = searcher.stored_fields(docnum)["body"]
        spaced = body.split()
        extra.append(f'"{" ".join(spaced[5:8])}"' if len(spaced) > 20 else f'"{body[20:30]}"')
    for text in mix + extra:
        query = engine._compile(text).query
        if query is not None:
            yield text, query


def test_every_match_and_its_score_as_whoosh(generated_engine):
    gen = generated_engine.generation
    fast = gen.searcher()
    plain = gen.index.searcher(weighting=BM25F(B=BM25_B, K1=BM25_K1))   # Whoosh reading lengths itself
    compared = kinds = 0
    seen_kinds = set()
    for text, query in queries(generated_engine):
        if has(query, Q.DisjunctionMax):
            continue       # scored differently on purpose: test_disjunction_max_scores_each_document
        expected = expected_scores(plain, query)
        found = score_all(fast, query)
        assert list(found.docnums) == sorted(expected), text
        for docnum, score in zip(found.docnums.tolist(), found.scores.tolist()):
            assert math.isclose(score, expected[docnum], rel_tol=1e-12), (text, docnum)
        top = found.top(5)
        best = sorted(expected.values(), reverse=True)[:5]
        assert [round(s, 9) for s, _ in top] == [round(s, 9) for s in best], text
        assert all(math.isclose(expected[d], s, rel_tol=1e-12) for s, d in top)
        compared += bool(expected)
        seen_kinds |= {k for k in (MinShouldMatch, Q.Phrase, Q.AndNot, Q.Or) if has(query, k)}
    assert compared >= 30
    assert seen_kinds == {MinShouldMatch, Q.Phrase, Q.AndNot, Q.Or}


def test_disjunction_max_scores_each_document_by_its_best_clause(generated_engine):
    searcher = generated_engine.generation.searcher()
    checked = 0
    for text, query in queries(generated_engine):
        clauses = [Q.Term(f, t) for f, t in dict.fromkeys(query.iter_all_terms()) if f.startswith("body_")][:6]
        per_clause = [whoosh_scores(searcher, c) for c in clauses]
        found = score_all(searcher, Q.DisjunctionMax(clauses, boost=2.0))
        expected = {}
        for scores in per_clause:
            for docnum, score in scores.items():
                expected[docnum] = max(expected.get(docnum, 0.0), score)
        assert dict(zip(found.docnums.tolist(), found.scores.tolist())) == {
            d: 2.0 * s for d, s in expected.items()}
        checked += sum(len(s) > 0 for s in per_clause) >= 2
    assert checked >= 3


def test_filters_are_unscored_sets(generated_engine):
    searcher = generated_engine.generation.searcher()
    for lang in ("th", "en", "xx"):
        expected = sorted(searcher.docs_for_query(Q.Term("lang", lang)))
        assert matching_docnums(searcher, Q.Term("lang", lang)).tolist() == expected
    everything = matching_docnums(searcher, Q.Every())
    assert everything.tolist() == sorted(searcher.reader().all_doc_ids())
    assert len(everything) < searcher.doc_count_all()     # the deleted ones are not matches


def test_facet_columns_hold_each_live_documents_stored_value(generated_engine):
    from indexer.facets import SINGLE_VALUED, FacetColumns

    searcher = generated_engine.generation.searcher()
    reader = searcher.reader()
    columns = FacetColumns(searcher)
    live = [d for d in range(reader.doc_count_all()) if not reader.is_deleted(d)]
    assert len(live) < reader.doc_count_all()            # a segment has deleted documents
    for name in SINGLE_VALUED:
        values, codes = columns.single[name]
        assert len(values) > 2 and len(codes) == reader.doc_count_all()
        assert [values[codes[d]] for d in live] == [reader.stored_fields(d).get(name, "") for d in live], name


@pytest.mark.parametrize("compiled", [True, False], ids=["count_ranges", "numpy"])
def test_entity_counts_are_those_of_each_documents_stored_entities(generated_engine, compiled, csegment_module,
                                                                    monkeypatch):
    from collections import Counter

    from indexer import postings
    from indexer.facets import FacetColumns

    monkeypatch.setitem(postings._COMPILED, "count_ranges", csegment_module.count_ranges if compiled else None)

    searcher = generated_engine.generation.searcher()
    reader = searcher.reader()
    columns = FacetColumns(searcher)
    live = np.array([d for d in range(reader.doc_count_all()) if not reader.is_deleted(d)])
    stored = {int(d): set(filter(None, reader.stored_fields(int(d)).get("entities", "").split(","))) for d in live}
    rng = np.random.default_rng(5)
    # Small sets read their documents' entities; most of the index takes the one-pass path.
    for size in (0, 1, 12, len(live) // 3, len(live)):
        docs = np.sort(rng.choice(live, size, replace=False))
        expected = Counter(e for d in docs for e in stored[int(d)])
        counts = columns.entity_counts(docs)
        assert {columns.entity_names[i]: int(c) for i, c in enumerate(counts) if c} == dict(expected)
        assert counts.dtype == np.int64 and len(counts) == len(columns.entity_names)
    assert sum(len(e) for e in stored.values()) > 100


def test_count_ranges_counts_each_documents_values_and_refuses_what_is_out_of_range(csegment_module):
    count = csegment_module.count_ranges
    starts = np.array([0, 2, 2, 5], dtype=np.int64)          # document 1 has no values
    values = np.array([1, 0, 2, 2, 1], dtype=np.int32)
    out = np.full(3, -1, dtype=np.int64)
    count(starts, values, np.array([0, 1, 2], dtype=np.int64), out)
    assert out.tolist() == [1, 2, 2]
    count(starts, values, np.array([], dtype=np.int64), out)
    assert out.tolist() == [0, 0, 0]
    for docs, pairs, ends in (([3], values, starts), ([-1], values, starts), ([2], values[:4], starts),
                              ([2], np.array([1, 0, 2, 3, 1], dtype=np.int32), starts),
                              ([1], values, np.array([0, 3, 2, 5], dtype=np.int64))):
        with pytest.raises(ValueError):
            count(ends, pairs, np.array(docs, dtype=np.int64), out)
    with pytest.raises(TypeError):
        count(starts.astype(np.int32), values, np.array([0], dtype=np.int64), out)
    with pytest.raises(TypeError):
        count(starts, values.astype(np.float32), np.array([0], dtype=np.int64), out)


def test_facet_tally_with_added_documents_counts_the_union_once(generated_engine):
    # A hybrid page counts its lexical matches early and adds the dense candidates later; the
    # result must be the counts of the union, each document once.
    from indexer.facets import FacetTally, facet_counts

    gen = generated_engine.generation
    searcher = gen.searcher()
    reader = searcher.reader()
    live = np.array([d for d in range(reader.doc_count_all()) if not reader.is_deleted(d)])
    rng = np.random.default_rng(8)
    for matched_size, extra_size in ((0, 0), (0, 20), (40, 0), (60, 30), (len(live) // 2, 100)):
        lang_docs = np.sort(rng.choice(live, matched_size + 15, replace=False))
        matched = np.sort(rng.choice(lang_docs, matched_size, replace=False))
        extra = np.sort(rng.choice(live, extra_size, replace=False))
        tally = FacetTally(searcher, str(gen.dir), matched, lang_docs)
        tally.add(extra)
        union = np.union1d(matched, extra)
        assert tally.facets() == facet_counts(searcher, str(gen.dir), union, np.union1d(lang_docs, extra))
        assert tally.total == len(union)


def test_facet_counts_are_most_frequent_first_then_by_text():
    """A facet's counts leave out values never counted and the no-value code, and order the
    rest by count, then by the value's text: the order a Python sort by (-count, str(value))
    gives, with many ties, text and numbers among the values."""
    from indexer.facets import FacetLabels

    values = ["", "vi", "th", "Zh", "zh", "ả", "a", "ab", 2019, 2020, 1999, "Đà Nẵng", "country-la", "10"]
    labels = FacetLabels(values)
    rng = np.random.default_rng(4)
    for _ in range(300):
        counts = rng.integers(0, 4, len(values)) * rng.integers(0, 2, len(values))
        expected = sorted(((values[i], int(n)) for i, n in enumerate(counts) if n and values[i]),
                          key=lambda kv: (-kv[1], str(kv[0])))
        assert list(labels.counted(counts).items()) == expected
    assert labels.counted(np.zeros(len(values), dtype=np.int64)) == {}
    assert FacetLabels([]).counted(np.zeros(0, dtype=np.int64)) == {}


def test_sorted_union_is_the_sorted_distinct_docnums():
    from indexer.arrayscore import sorted_union

    rng = np.random.default_rng(3)
    for sizes in ([], [0], [5], [0, 0], [3, 0, 7], [1500, 1500, 40, 1]):
        arrays = [np.sort(rng.choice(5000, n, replace=False)).astype(np.int64) for n in sizes]
        expected = np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=np.int64)
        got = sorted_union(arrays)
        assert got.tolist() == expected.tolist() and got.dtype == np.int64
    one = np.array([1, 2, 3])
    sorted_union([one])[0] = 99
    assert one[0] == 1                                     # never the caller's array


def test_top_orders_by_score_then_docnum():
    from indexer.arrayscore import Matches

    found = Matches(np.array([2, 3, 5, 8, 9]), np.array([1.0, 3.0, 3.0, 0.5, 3.0]))
    assert found.top(2) == [(3.0, 3), (3.0, 5)]
    assert found.top(10) == [(3.0, 3), (3.0, 5), (3.0, 9), (1.0, 2), (0.5, 8)]
    assert found.top(0) == []
    assert found.restrict(np.array([5, 8])).top(3) == [(3.0, 5), (0.5, 8)]


def test_cached_posting_lists_give_the_same_matches(generated_engine):
    from indexer.arrayscore import PostingCache

    searcher = generated_engine.generation.searcher()
    cache = PostingCache(max_bytes=16 << 10, min_postings=1)
    listed = list(queries(generated_engine))
    for _ in range(2):                                             # the second pass hits the cache
        for text, query in listed:
            plain, cached = score_all(searcher, query), score_all(searcher, query, cache)
            assert plain.docnums.tolist() == cached.docnums.tolist(), text
            assert plain.scores.tolist() == cached.scores.tolist(), text
            assert cache.bytes <= cache.max_bytes
    assert cache.bytes > 0 and cache.hits > 100 and cache.misses > 100
    lang = Q.Term("lang", "th")
    assert matching_docnums(searcher, lang, cache).tolist() == matching_docnums(searcher, lang).tolist()


def test_term_presence_never_calls_a_present_term_absent(generated_engine):
    from indexer.termpresence import TermPresence

    searcher = generated_engine.generation.searcher()
    rng = np.random.default_rng(5)
    for leaf, _ in searcher.reader().leaf_readers():
        presence = TermPresence(leaf._terms)
        terms = list(leaf._terms.terms())
        assert presence.keys == len(terms) > 1000
        assert all(presence.may_have(field, btext) for field, btext in terms)
        fields = sorted({field for field, _ in terms})
        absent = [(fields[i % len(fields)], rng.bytes(8).hex().encode()) for i in range(2000)]
        assert not any((field, btext) in leaf._terms for field, btext in absent)
        passed = sum(presence.may_have(field, btext) for field, btext in absent)
        assert passed < 0.15 * len(absent)       # ~6% expected at 16 bits per term
        assert presence.bytes <= 4 * presence.keys + 512


def test_posting_cache_keeps_long_lists_within_its_budget():
    from indexer.arrayscore import PostingCache

    cache = PostingCache(max_bytes=8 * 2500, min_postings=1000)
    lists = {n: [(0, np.arange(n), np.ones(n))] for n in (999, 1000, 1200, 1300)}
    for n, postings in lists.items():
        cache.offer(("body_en", str(n).encode()), n, postings)
    assert cache.get(("body_en", b"999")) is None              # too short to be worth keeping
    assert cache.get(("body_en", b"1000")) is None             # evicted: the oldest
    assert cache.bytes == 8 * 2500
    df, [(leaf, docnums, tfs)] = cache.get(("body_en", b"1300"))
    assert df == 1300 and docnums.tolist() == list(range(1300)) and set(tfs.tolist()) == {1.0}


def test_an_excluded_word_excludes_the_first_match_too(tmp_path):
    from whoosh.fields import TEXT, Schema
    from whoosh.index import create_in

    index = create_in(str(tmp_path), Schema(body=TEXT))
    with index.writer() as writer:
        for body in ("apple", "apple pie", "banana apple", "banana"):
            writer.add_document(body=body)
    searcher = index.searcher(weighting=BM25F())
    query = Q.AndNot(Q.Term("body", "banana"), Q.Term("body", "apple"))
    assert sorted(whoosh_scores(searcher, query)) == [2, 3]     # Whoosh keeps doc 2, which has apple
    assert score_all(searcher, query).docnums.tolist() == [3]
