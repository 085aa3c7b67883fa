"""Thai and Chinese bodies keep their word spans from indexing (indexer/wordspans.py), and
snippets use them instead of segmenting the body again."""
from pathlib import Path

import pytest

from analyzers import analyzer_for, field_language
from benchmarks import corpus_gen
from indexer.build import build_index
from indexer.engine import SearchEngine
from indexer.positions import TermPositions
from indexer.query import field_analyzer
from indexer.results import SearchRequest
from indexer.snippets import make_snippet
from indexer.wordspans import (BODY_SPANS, SEGMENTED_LANGUAGES, WordSpanPositions, decode_spans,
                               encode_spans)

REPO_ROOT = Path(__file__).resolve().parent.parent


def _bodies(lang: str) -> list[str]:
    """Generated bodies of the language, the seed articles, and a body mixing scripts."""
    texts = [a["body"] for a in (corpus_gen.article(5, i) for i in range(60)) if a["lang"] == lang]
    texts += [p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "corpus").glob("*.txt"))]
    texts.append("ฮานอย Hà Nội 河内市 ความร่วมมือ ๑๒๓ Vietnam–Laos 友好合作 ทํางาน")
    return texts


@pytest.mark.parametrize("spans", [
    [],
    [(0, 3)],
    [(5, 9), (0, 2), (2, 5)],                        # unsorted
    [(0, 4), (0, 2), (2, 4), (10, 12)],              # search mode: a word and its sub-words
    [(0, 300), (400, 401)],                          # a long word, a far start
    [(70_000, 70_004), (200_000, 200_001)],          # past 16 bits
])
def test_spans_round_trip(spans):
    starts, ends = decode_spans(encode_spans([s for s, _ in spans], [e for _, e in spans]))
    assert list(zip(starts.tolist(), ends.tolist())) == sorted(spans)


def test_encoding_is_about_two_bytes_a_word():
    starts = [i * 3 for i in range(1000)]
    assert len(encode_spans(starts, [s + 2 for s in starts])) == 1 + 2 * len(starts)


@pytest.mark.parametrize("lang", SEGMENTED_LANGUAGES)
def test_recorded_spans_are_the_indexed_tokens_and_postings_are_unchanged(lang):
    analyzer = analyzer_for(lang)
    recording = WordSpanPositions()
    for body in _bodies(lang):
        postings = list(recording.word_values(body, analyzer, mode="index"))
        assert postings == list(TermPositions().word_values(body, analyzer, mode="index"))
        want = sorted((t.startchar, t.endchar) for t in analyzer(body, chars=True, mode="index") if not t.stopped)
        starts, ends = decode_spans(recording.take_spans())
        assert list(zip(starts.tolist(), ends.tolist())) == want
        assert recording.take_spans() is None            # taken once
    assert list(recording.word_values(["pre", "split"], analyzer)) and recording.take_spans() is None


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("spans")
    corpus_dir = corpus_gen.generate(80, root / "corpus", seed=8)
    build_index(corpus_dir, root / "index", rebuild=True, procs=1, vectors=False)
    engine = SearchEngine(root / "index")
    engine.cache.enabled = False
    return engine


def test_thai_and_chinese_bodies_store_their_spans_and_others_do_not(index):
    searcher = index.generation.searcher()
    langs = set()
    for docnum in range(searcher.doc_count_all()):
        fields = searcher.stored_fields(docnum)
        langs.add(fields["lang"])
        assert (BODY_SPANS in fields) == (field_language(fields["lang"]) in SEGMENTED_LANGUAGES)
    assert set(SEGMENTED_LANGUAGES) < langs


def test_snippets_from_stored_spans_are_those_of_segmenting_again(index):
    """Over the query mix, every Thai and Chinese hit's snippet is the same either way, and
    most are marked."""
    searcher = index.generation.searcher()
    compared = marked = 0
    for _, q in corpus_gen.query_mix():
        response = index.search(SearchRequest(q, mode="lexical"))
        terms = index._highlight_terms(index._compile(q))
        for hit in response.results:
            fields = searcher.stored_fields(searcher.document_number(id=hit.id))
            if BODY_SPANS not in fields:
                continue
            flang = field_language(fields["lang"])
            stored = make_snippet(fields["body"], terms[flang], field_analyzer(flang), spans=fields[BODY_SPANS])
            assert stored == hit.snippet
            assert stored == make_snippet(fields["body"], terms[flang], field_analyzer(flang)), (q, hit.id)
            compared += 1
            marked += "<mark>" in stored
    assert compared >= 50 and marked >= 0.8 * compared


def test_unreadable_spans_fall_back_to_segmenting(index):
    searcher = index.generation.searcher()
    for docnum in range(searcher.doc_count_all()):
        fields = searcher.stored_fields(docnum)
        if fields["lang"] == "th" and len(fields["body"]) > 400:
            break
    body, analyzer = fields["body"], field_analyzer("th")
    word = next(t.text for t in analyzer(body[200:400], mode="query") if len(t.text) > 2)
    good = make_snippet(body, {word}, analyzer, spans=fields[BODY_SPANS])
    assert "<mark>" in good
    assert make_snippet(body, {word}, analyzer, spans=b"\x02\x01\x02\x03") == good   # bad length
    assert make_snippet(body, {word}, analyzer, spans="not bytes") == good
    assert make_snippet(body, {word}, analyzer) == good
