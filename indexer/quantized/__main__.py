"""python -m indexer.quantized [--strict]: build the int8 scorer of the passage matrix.

Without a compiler, or if the build fails its check, dense search still works on the float32
product: this prints why and exits 0 (1 with --strict)."""
import sys

from . import BuildError, build, describe, disabled


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if disabled():
        print("int8 scorer: disabled by POLYSEARCH_INT8_SCORES; the float32 product is used")
        return 0
    try:
        print(describe(build()))
    except (BuildError, OSError) as exc:
        print(f"warning: int8 scorer not built, the float32 product will be used: {exc}", file=sys.stderr)
        return 1 if "--strict" in argv else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
