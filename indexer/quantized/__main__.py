"""python -m indexer.quantized [--strict]: build the int8 scorer of the passage matrix.

Without a compiler, or if the build fails its check, dense search still works on the float32
product: this prints why and exits 0 (1 with --strict)."""
import sys

from analyzers.cbuild import install_step
from . import build, describe, disabled


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return install_step(argv, lambda: describe(build()), "POLYSEARCH_INT8_SCORES" if disabled() else None,
                        "the float32 product will be used")


if __name__ == "__main__":
    sys.exit(main())
