"""jieba's word graph (get_DAG) and best path (calc) in C, for the Chinese analyzer.

    module = load()            # None without the build (python -m analyzers.cjieba)
    tokenizer_class()          # jieba.Tokenizer, or a subclass whose get_DAG and calc are C's

jieba segments a run of Han characters by building, for every position, the dictionary words
that start there (get_DAG: a dictionary lookup per prefix), then the most probable path through
them (calc: a logarithm and a tuple per edge), both in Python: ~45% of jieba's time and a quarter
of the Chinese analyzer's (cProfile over 300 generated articles: 1.85 of 4.5 s). cjieba.c does
the same lookups, logarithms and additions in the same order, so the same words come out
(the build is checked against jieba's own methods; tests compare whole articles). The HMM
for words outside the dictionary stays jieba's. Without a compiler, Python's headers, or with
POLYSEARCH_CJIEBA=off, jieba runs as shipped.
"""
import math
from pathlib import Path

import jieba

from ..cachedir import cache_dir
from ..cbuild import (BuildError, build_checked, build_key, extension_abi, find_compiler, load_extension,
                      load_once, python_include, switched_off)

SOURCE = Path(__file__).with_name("cjieba.c")
CFLAGS = ["-O2", "-fPIC", "-fno-fast-math"]      # the same double arithmetic as Python's
LDFLAGS = ["-shared"]
MODULE = "cjieba"


def disabled() -> bool:
    return switched_off("POLYSEARCH_CJIEBA")


def library_dir() -> Path:
    return Path(cache_dir()) / "cjieba"


def library_path(directory: Path | None = None) -> Path:
    key = build_key(SOURCE.read_text(encoding="utf-8"), " ".join(CFLAGS), " ".join(LDFLAGS), extension_abi())
    return (directory or library_dir()) / f"cjieba-{key}.so"


def load_module(path: Path):
    return load_extension(MODULE, path)


_modules: dict = {}


def load(directory: Path | None = None):
    """The extension module built for this source and interpreter, or None (not built,
    disabled, or not loadable here). Looked up once per process and cache directory."""
    if disabled():
        return None
    return load_once(_modules, directory, library_path, load_module, errors=(ImportError, OSError, AttributeError))


def compiled_tokenizer_class(module) -> type:
    """A jieba.Tokenizer whose get_DAG and calc are the module's."""
    get_dag, calc = module.get_dag, module.calc

    class CompiledTokenizer(jieba.Tokenizer):
        def get_DAG(self, sentence):
            self.check_initialized()
            return get_dag(sentence, self.FREQ)

        def calc(self, sentence, DAG, route):
            calc(sentence, DAG, route, self.FREQ, math.log(self.total))

    return CompiledTokenizer


def tokenizer_class(directory: Path | None = None) -> type:
    """The Tokenizer class the Chinese analyzer uses: compiled where built, else jieba's."""
    module = load(directory)
    return jieba.Tokenizer if module is None else compiled_tokenizer_class(module)


# The check: jieba's own get_DAG and calc against the built ones, on the seed articles' Chinese,
# Traditional and mixed text, dictionary words glued together, characters outside the
# dictionary, and the edges (an empty string, one character); then whole segmentations.
_CHECK_SCRIPT = r"""
import logging, random, sys
from pathlib import Path
import jieba
from analyzers.cachedir import cache_dir
from analyzers.cjieba import compiled_tokenizer_class, load_module
jieba.setLogLevel(logging.WARNING)
module = load_module(sys.argv[1])
reference = jieba.Tokenizer()
reference.tmp_dir = cache_dir()
reference.initialize()
compiled = compiled_tokenizer_class(module)()
compiled.tmp_dir = cache_dir()
compiled.initialize()
rng = random.Random(5)
words = [w for w, n in reference.FREQ.items() if n][:: 97]
texts = [p.read_text(encoding="utf-8") for p in sorted(Path("corpus").glob("*.txt"))]
texts += ["", "越", "越南", "越南社会主义共和国与老挝人民民主共和国", "河內市與寮國", "ＡＢＣ越南2024年",
          "𠀀𠀁越南", "中华人民共和国国务院总理" * 20]
texts += ["".join(rng.choice(words) for _ in range(rng.randint(1, 40))) for _ in range(300)]
texts += ["".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 60))) for _ in range(300)]
checked = 0
for text in texts:
    for run in jieba.re_han_default.split(text):
        dag = reference.get_DAG(run)
        if compiled.get_DAG(run) != dag:
            sys.exit(f"get_DAG differs: {run[:40]!r}")
        want, got = {}, {}
        reference.calc(run, dag, want)
        compiled.calc(run, dag, got)
        if got != want or list(got) != list(want) or any(type(a) is not type(b) for x in want for a, b in zip(want[x], got[x])):
            sys.exit(f"calc differs: {run[:40]!r}")
        checked += 1
    for mode in ("default", "search"):
        if list(compiled.tokenize(text, mode=mode)) != list(reference.tokenize(text, mode=mode)):
            sys.exit(f"tokenize ({mode}) differs: {text[:40]!r}")
if checked < 600:
    sys.exit(f"only {checked} runs checked")
"""


def build(directory: Path | None = None, compiler: str | None = None) -> tuple[Path, bool]:
    """Compile, check against jieba's own methods, install: (path, whether it was built now)."""
    directory = directory or library_dir()
    target = library_path(directory)
    if target.is_file():
        return target, False
    build_checked(SOURCE, target, find_compiler(compiler), CFLAGS, _CHECK_SCRIPT, "analyzers/cjieba",
                  include_dirs=(python_include(),), ldflags=LDFLAGS)
    _modules.clear()
    return target, True


def describe(result: tuple[Path, bool]) -> str:
    path, built = result
    return f"built {path} (segments as jieba does)" if built else f"analyzers/cjieba is up to date: {path}"


__all__ = ["BuildError", "build", "describe", "disabled", "load", "load_module", "tokenizer_class"]
