"""Request and response types of the search core (what the CLI and web layers consume)."""
from dataclasses import asdict, dataclass, field
from datetime import date

MODES = ("lexical", "dense", "hybrid")
MAX_PAGE_SIZE = 100
MAX_QUERY_CHARS = 1000


class SearchError(ValueError):
    """A request the core refuses; the message says what was wrong (becomes a 4xx)."""


@dataclass(frozen=True)
class SearchRequest:
    query: str
    lang: str | None = None          # restrict results to one document language
    page: int = 1                    # 1-based
    size: int = 10                   # 1..MAX_PAGE_SIZE
    date_from: date | None = None    # inclusive
    date_to: date | None = None      # inclusive
    source: str | None = None
    entity: str | None = None        # entity id from the multilingual lexicon
    mode: str = "hybrid"             # one of MODES; falls back to lexical without vectors

    def validate(self) -> "SearchRequest":
        if not isinstance(self.query, str):
            raise SearchError("query must be a string")
        if len(self.query) > MAX_QUERY_CHARS:
            raise SearchError(f"query is {len(self.query)} characters; the limit is {MAX_QUERY_CHARS}")
        if not (1 <= self.size <= MAX_PAGE_SIZE):
            raise SearchError(f"size must be between 1 and {MAX_PAGE_SIZE}")
        if self.page < 1:
            raise SearchError("page must be 1 or more")
        if self.mode not in MODES:
            raise SearchError(f"mode must be one of {', '.join(MODES)}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise SearchError("from is after to")
        return self


@dataclass
class Hit:
    id: str
    title: str
    lang: str
    date: str | None
    source: str | None
    url: str | None
    score: float
    snippet: str                     # escaped HTML; matched terms wrapped in <mark>


@dataclass
class SearchResponse:
    query: str
    total: int
    took_ms: float
    page: int
    size: int
    results: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    mode: str = "lexical"
    query_langs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)
