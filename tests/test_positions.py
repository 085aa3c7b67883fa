"""TermPositions makes the postings Whoosh's Positions format makes, byte for byte."""
from pathlib import Path

import pytest
from whoosh import formats
from whoosh.analysis import StandardAnalyzer

from analyzers import FIELD_LANGUAGES, analyzer_for
from benchmarks import corpus_gen
from indexer.positions import TermPositions, encode_positions

REPO_ROOT = Path(__file__).resolve().parent.parent


def _texts() -> list[str]:
    """The seed articles, and generated articles in every language."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "corpus").glob("*.txt"))]
    for i in range(20):
        doc = corpus_gen.article(11, i)
        texts += [doc["title"], doc["body"]]
    return texts


@pytest.mark.parametrize("lang", FIELD_LANGUAGES)
@pytest.mark.parametrize("boost", [1.0, 2.0])
def test_postings_of_every_text_are_whooshs(lang, boost):
    analyzer = analyzer_for(lang)
    ours, whooshs = TermPositions(field_boost=boost), formats.Positions(field_boost=boost)
    texts = _texts()
    repeated = 0
    for text in texts:
        got = list(ours.word_values(text, analyzer, mode="index"))
        assert got == list(whooshs.word_values(text, analyzer, mode="index"))
        repeated += sum(freq > 1 for _, freq, _, _ in got)
    assert repeated > 100      # terms found more than once: their deltas were encoded


def test_stopped_tokens_and_token_lists_as_whoosh_handles_them():
    analyzer = StandardAnalyzer()        # marks stop words stopped when asked to keep them
    text = "the river and the sea and the river again, and the sea"
    for kwargs in ({}, {"removestops": False}):
        assert list(TermPositions().word_values(text, analyzer, **kwargs)) == \
            list(formats.Positions().word_values(text, analyzer, **kwargs))
    words = ["ha", "noi", "ha", "long"]
    assert list(TermPositions().word_values(words, analyzer)) == \
        list(formats.Positions().word_values(words, analyzer))


@pytest.mark.parametrize("positions", [[0], [7], [70000], [3, 3], [0, 5, 9, 400], [2**31, 2**31 + 1]])
def test_encoding_is_whooshs(positions):
    for _ in range(2):             # the second time a single position comes from the cache
        assert encode_positions(list(positions)) == formats.Positions().encode(list(positions))
