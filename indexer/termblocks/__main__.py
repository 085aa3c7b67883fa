"""python -m indexer.termblocks [--strict]: build the C encoder of a term's posting blocks.

Without a compiler or Python's headers, or if the build fails its check, reindexing still
works with the Python encoder: this prints why and exits 0 (1 with --strict)."""
import sys

from ..cbuild import install_step
from . import build, describe, disabled


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return install_step(argv, lambda: describe(build()), "POLYSEARCH_TERM_BLOCKS" if disabled() else None,
                        "the Python encoder will be used")


if __name__ == "__main__":
    sys.exit(main())
