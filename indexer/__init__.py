"""Indexing and search: articles in, a Whoosh index generation out; queries in, ranked pages out."""
import os

# numpy's OpenBLAS keeps its threads spinning for 2**28 cycles (~0.1 s) after every call. The
# product with the passage matrix runs beside the search thread, and on 2 cores the spinning
# thread then took that thread's core for the rest of the search: 2**4 cycles sleeps at once.
# Read when numpy loads OpenBLAS, so it only counts if set before numpy is first imported
# (web/cli.py and the Makefile set it too).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
