"""The directory polysearch owns for caches: POLYSEARCH_CACHE_DIR, else ~/.cache/polysearch.

jieba's dictionary cache and the compiled C libraries (indexer/e5kernel, indexer/quantized) live here."""
import os


def cache_dir() -> str:
    default = os.path.join(os.path.expanduser("~"), ".cache", "polysearch")
    path = os.environ.get("POLYSEARCH_CACHE_DIR", default)
    os.makedirs(path, exist_ok=True)
    return path
