"""A small LRU of search responses, valid for one index generation.

Frequent queries (the front page's, a link shared around) are answered without
analysis, scoring or snippets. Entries are keyed by the (frozen) SearchRequest and
belong to the generation they were computed on: the first lookup after a reindex
switched generations empties the cache, so a result never outlives its index.

POLYSEARCH_QUERY_CACHE sets the number of entries per process (0 disables it).
"""
import copy
import os
import threading
from collections import OrderedDict

DEFAULT_ENTRIES = 1024


class QueryCache:
    def __init__(self, entries: int | None = None):
        if entries is None:
            entries = int(os.environ.get("POLYSEARCH_QUERY_CACHE", DEFAULT_ENTRIES))
        self.entries = max(0, entries)
        self.enabled = self.entries > 0
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()
        self._generation = None
        self.hits = self.misses = 0

    def _check_generation(self, generation: str) -> None:
        if generation != self._generation:
            self._items.clear()
            self._generation = generation

    def get(self, generation: str, request):
        """A copy of the cached response (callers may change it), or None."""
        if not self.enabled:
            return None
        with self._lock:
            self._check_generation(generation)
            response = self._items.get(request)
            if response is None:
                self.misses += 1
                return None
            self._items.move_to_end(request)
            self.hits += 1
        return copy.deepcopy(response)

    def put(self, generation: str, request, response) -> None:
        if not self.enabled:
            return
        response = copy.deepcopy(response)
        with self._lock:
            self._check_generation(generation)
            self._items[request] = response
            self._items.move_to_end(request)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
