"""jieba's word graph and best path in C (analyzers/cjieba) segment exactly as jieba does, and
are optional."""
import logging
import math
import shutil

import jieba
import pytest

from analyzers import cjieba
from analyzers.cachedir import cache_dir
from benchmarks import corpus_gen

needs_compiler = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None,
                                    reason="no C compiler here")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The directory of a build made (and checked) for this test module, or the test skipped."""
    directory = tmp_path_factory.mktemp("cjieba")
    try:
        cjieba.build(directory)
    except cjieba.BuildError as exc:
        if "failed its check" in str(exc):     # built, and segments otherwise than jieba
            pytest.fail(str(exc))
        pytest.skip(f"analyzers/cjieba not buildable here: {exc}")
    return directory


@pytest.fixture(scope="module")
def module(built):
    return cjieba.load_module(cjieba.library_path(built))


def _tokenizer(cls):
    jieba.setLogLevel(logging.WARNING)
    tokenizer = cls()
    tokenizer.tmp_dir = cache_dir()
    tokenizer.initialize()
    return tokenizer


@pytest.fixture(scope="module")
def tokenizers(module):
    return _tokenizer(jieba.Tokenizer), _tokenizer(cjieba.compiled_tokenizer_class(module))


@needs_compiler
def test_generated_chinese_articles_are_segmented_as_jieba_does(tmp_path, tokenizers):
    reference, compiled = tokenizers
    corpus = corpus_gen.generate(200, tmp_path / "corpus", seed=3, procs=1)
    from indexer.corpus import read_corpus

    bodies = [a.body for a in read_corpus(corpus) if getattr(a, "lang", None) == "zh"]
    assert len(bodies) > 20
    for body in bodies:
        assert list(compiled.tokenize(body, mode="search")) == list(reference.tokenize(body, mode="search"))
        assert list(compiled.cut(body, HMM=False)) == list(reference.cut(body, HMM=False))
        assert list(compiled.cut(body, cut_all=True)) == list(reference.cut(body, cut_all=True))


@needs_compiler
@pytest.mark.parametrize("text", ["", "越", "越南与老挝", "河內市與寮國的合作", "ＡＢＣ越南2024年", "𠀀越南𠀁",
                                  "的的的的的的", "中华人民共和国国务院总理" * 30])
def test_the_graph_and_the_path_are_jiebas_own(tokenizers, text):
    reference, compiled = tokenizers
    dag = reference.get_DAG(text)
    assert compiled.get_DAG(text) == dag
    want, got = {}, {}
    reference.calc(text, dag, want)
    compiled.calc(text, dag, got)
    assert got == want and list(got) == list(want)
    assert [type(v) for pair in got.values() for v in pair] == [type(v) for pair in want.values() for v in pair]


@needs_compiler
def test_bad_arguments_are_errors_not_crashes(module):
    freq = {"越": 3, "越南": 5}
    with pytest.raises(TypeError):
        module.get_dag("越南", ["not", "a", "dict"])
    with pytest.raises(TypeError):
        module.get_dag(b"bytes", freq)
    with pytest.raises(ValueError):
        module.calc("越南", {}, {}, freq, math.log(8))                     # no graph for a position
    with pytest.raises(ValueError):
        module.calc("越南", {0: [5], 1: [1]}, {}, freq, math.log(8))       # an end past the text
    with pytest.raises(ValueError):
        module.calc("越", {0: [0]}, {}, {"越": -2}, math.log(8))            # a count that is no count
    route = {}
    module.calc("越南", module.get_dag("越南", freq), route, freq, math.log(8))
    assert route[0] == (math.log(5) - math.log(8), 1)


@needs_compiler
def test_the_chinese_analyzer_uses_it_where_built_and_jieba_otherwise(tmp_path, monkeypatch, built):
    assert cjieba.build(built) == (cjieba.library_path(built), False)      # up to date: not rebuilt
    assert cjieba.tokenizer_class(built).__name__ == "CompiledTokenizer"
    monkeypatch.setenv("POLYSEARCH_CJIEBA", "off")
    assert cjieba.tokenizer_class(built) is jieba.Tokenizer
    monkeypatch.delenv("POLYSEARCH_CJIEBA")
    assert cjieba.tokenizer_class(tmp_path / "nothing built here") is jieba.Tokenizer


@needs_compiler
def test_a_tie_goes_to_the_longer_word_as_pythons_max_gives_it(module):
    """越 then 南, or 越南: the same score (log 5 + log 1 against log 5); max over (score, end)
    tuples takes the larger end."""
    class Dictionary:
        FREQ = {"越": 5, "越南": 5, "南": 1}
        total = 1

    dag = {0: [0, 1], 1: [1]}
    want, got = {}, {}
    jieba.Tokenizer.calc(Dictionary(), "越南", dag, want)
    module.calc("越南", dag, got, Dictionary.FREQ, math.log(Dictionary.total))
    assert got == want and got[0] == (math.log(5), 1)
