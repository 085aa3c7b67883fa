"""The benchmark corpus generator: deterministic, multilingual, readable as a corpus."""
import json

from benchmarks import corpus_gen
from indexer.article import Article
from indexer.corpus import read_corpus


def test_same_seed_same_articles_other_seed_others():
    assert corpus_gen.article(6, 7) == corpus_gen.article(6, 7)
    assert corpus_gen.article(6, 7)["body"] != corpus_gen.article(7, 7)["body"]


def test_languages_lengths_and_metadata():
    articles = [corpus_gen.article(1, i) for i in range(25)]
    assert {a["lang"] for a in articles} == set(corpus_gen.LANGS)
    for a in articles:
        words = a["body"].split() if a["lang"] in ("ar", "vi", "en") else None
        if words is not None:   # space-delimited: count words directly (entities add a few)
            assert corpus_gen.BODY_WORDS[0] <= len(words) <= corpus_gen.BODY_WORDS[1] + 40
        else:                   # th/zh: at least one character per word
            assert len(a["body"]) >= corpus_gen.BODY_WORDS[0]
        assert a["title"] and a["date"][:2] == "20" and a["source"] in corpus_gen.SOURCES[a["lang"]]


def test_generated_directory_reads_as_a_corpus(tmp_path):
    out = corpus_gen.generate(30, tmp_path / "c", seed=3, procs=1)
    items = list(read_corpus(out))
    assert len(items) == 30 and all(isinstance(a, Article) for a in items)
    assert corpus_gen.generate(30, out, seed=3) == out           # reused, not rewritten
    first = json.loads((out / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first == corpus_gen.article(3, 0)


def test_query_mix_is_fixed_and_covers_every_language():
    mix = corpus_gen.query_mix(per_lang=8)
    assert mix == corpus_gen.query_mix(per_lang=8)
    assert {lang for lang, _ in mix} == set(corpus_gen.LANGS)
    assert all(q.strip() for _, q in mix)
