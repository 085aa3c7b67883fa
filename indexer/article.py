"""The article record that flows from corpus ingestion into the index."""
from dataclasses import dataclass, field


@dataclass
class Article:
    id: str                      # stable id: path relative to the corpus root without extension, or the JSONL id
    title: str
    body: str                    # cleaned body text (boilerplate removed)
    lang: str | None = None      # ISO 639-1 code if known (given in JSONL or detected later)
    date: str | None = None      # ISO date YYYY-MM-DD if found
    url: str | None = None
    source: str | None = None    # publisher, e.g. "VOVWORLD"
    path: str | None = None      # file the article came from, relative to the corpus root
    title_derived: bool = False  # title made from the body's first sentence: shown, not indexed as a title
    extra: dict = field(default_factory=dict)


@dataclass
class CorpusError:
    """A file or line that could not be ingested; reported, never silently dropped."""
    path: str
    reason: str
    line: int | None = None

    def __str__(self):
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"
