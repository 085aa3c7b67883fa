"""python -m analyzers.cjieba [--strict]: build jieba's word graph and best path in C.

Without a compiler or Python's headers, or if the build fails its check, Chinese text is still
segmented, by jieba's Python code: this prints why and exits 0 (1 with --strict)."""
import sys

from ..cbuild import install_step
from . import build, describe, disabled


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return install_step(argv, lambda: describe(build()), "POLYSEARCH_CJIEBA" if disabled() else None,
                        "jieba's Python code will be used")


if __name__ == "__main__":
    sys.exit(main())
