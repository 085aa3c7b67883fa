"""python -m indexer.csegment [--strict]: build the segment writer's posting pool and term
block encoder in C.

Without a compiler or Python's headers, or if the build fails its check, reindexing still
works with the Python pool and term writer: this prints why and exits 0 (1 with --strict)."""
import sys

from analyzers.cbuild import install_step
from . import build, describe, disabled


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return install_step(argv, lambda: describe(build()), "POLYSEARCH_CSEGMENT" if disabled() else None,
                        "the Python posting pool and term writer will be used")


if __name__ == "__main__":
    sys.exit(main())
