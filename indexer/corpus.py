"""Read a corpus directory (or a single file) into Article records.

    for item in read_corpus(root):       # Article | CorpusError, in sorted path order
        ...
    article_hash(article) -> str         # sha256 hex, changes when any field changes

Files, walked recursively in sorted order:

- ``.txt`` / ``.md``: one raw scraped article. The first non-empty line is the
  title (a leading markdown "#" is dropped), the rest is the body, cleaned
  with indexer.clean.clean_article (which also finds date and source).
  ``.md`` may start with a ``---`` front-matter block of ``key: value`` lines
  (title, date, lang, url, source). id = path relative to the root without
  the extension, '/'-separated ("sub/a.txt" -> "sub/a").
- ``.jsonl``: one article per line: required ``id`` and ``body``; ``title``
  is optional (derived from the body's first sentence when missing, as in
  eval corpora); optional ``lang``, ``date``, ``url``, ``source``; other keys
  go to Article.extra. JSONL records are already structured, so their body is
  taken as given, not scrape-cleaned. Blank lines are skipped.

Everything that cannot be ingested is yielded as a CorpusError and skipped,
the rest is still read: binary files, text that is not UTF-8 (UTF-8 with BOM
and UTF-16 with BOM are accepted), empty files and empty bodies, files over
``max_bytes`` (never read; for JSONL the limit applies per line), broken JSON
lines and missing fields (with the line number), duplicate ids (the first is
kept), symlinks leading outside the root (never read), broken symlinks and
non-regular files.

Hidden files and directories (".name") and common media/archive files
(images, audio, video, PDFs, archives) are skipped silently; any other file
type is reported as unsupported so that nothing disappears unnoticed.
Directory symlinks inside the root are not followed: their target is walked
under its own path already. A root that does not exist raises
FileNotFoundError; nothing else raises.
"""
import hashlib
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .article import Article, CorpusError
from .clean import clean_article, parse_date, title_from_body

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
TEXT_SUFFIXES = {".txt", ".md"}
JSONL_SUFFIX = ".jsonl"
# Clearly not articles: skipped without a report.
IGNORED_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".ico", ".tif", ".tiff", ".avif",
    ".mp3", ".wav", ".ogg", ".flac", ".mp4", ".webm", ".mov", ".avi", ".mkv", ".pdf",
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".tar", ".rar",
    ".woff", ".woff2", ".ttf", ".otf", ".pyc",
}
OPTIONAL_FIELDS = ("lang", "date", "url", "source")


def read_corpus(root: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES,
                clean: bool = True) -> Iterator[Article | CorpusError]:
    """Yield an Article for each ingestible document under root and a
    CorpusError for each one that is not. root may also be a single file.
    clean=False keeps .txt/.md bodies as scraped (title/body split only)."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"corpus root not found: {root}")
    reader = _Reader(root if root.is_dir() else root.parent, max_bytes, clean)
    if root.is_dir():
        yield from reader.walk(root)
    else:
        yield from reader.read_file(root)


def article_hash(article: Article) -> str:
    """sha256 over id, title, body and metadata (not the file path), for
    incremental reindexing: equal hash means nothing to reindex."""
    fields = {"id": article.id, "title": article.title, "body": article.body,
              "lang": article.lang, "date": article.date, "url": article.url,
              "source": article.source, "extra": article.extra}
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class _Reader:
    def __init__(self, base: Path, max_bytes: int, clean: bool):
        self.base = base
        self.real_base = base.resolve()
        self.max_bytes = max_bytes
        self.clean = clean
        self.seen: dict[str, str] = {}          # id -> where it was first seen

    def rel(self, path: Path) -> str:
        return path.relative_to(self.base).as_posix()

    def walk(self, directory: Path) -> Iterator[Article | CorpusError]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as e:
            yield CorpusError(self.rel(directory) or ".", f"cannot list directory: {e.strerror}")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink() and (error := self._bad_symlink(path)):
                yield error
            elif entry.is_dir(follow_symlinks=False):
                yield from self.walk(path)
            elif entry.is_dir():
                continue                        # in-root directory symlink: walked via its target
            else:
                yield from self.read_file(path)

    def _bad_symlink(self, path: Path) -> CorpusError | None:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return CorpusError(self.rel(path), "broken symlink")
        if not target.is_relative_to(self.real_base):
            return CorpusError(self.rel(path), "symlink points outside the corpus root; not read")
        return None

    def read_file(self, path: Path) -> Iterator[Article | CorpusError]:
        rel = self.rel(path)
        suffix = path.suffix.lower()
        if suffix in IGNORED_SUFFIXES:
            return
        if suffix not in TEXT_SUFFIXES and suffix != JSONL_SUFFIX:
            yield CorpusError(rel, f"unsupported file type {suffix or '(no extension)'!r}")
            return
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            yield CorpusError(rel, "file name is not valid UTF-8")
            return
        try:
            info = path.stat()
        except OSError as e:
            yield CorpusError(rel, f"cannot read: {e.strerror}")
            return
        if not stat.S_ISREG(info.st_mode):
            yield CorpusError(rel, "not a regular file")
        elif suffix == JSONL_SUFFIX:
            yield from self._read_jsonl(path, rel)
        elif info.st_size > self.max_bytes:
            yield CorpusError(rel, f"file too large ({info.st_size} bytes, limit {self.max_bytes})")
        else:
            yield from self._read_text(path, rel)

    def _register(self, article: Article, line: int | None = None) -> Article | CorpusError:
        where = f"{article.path}:{line}" if line else article.path
        first = self.seen.setdefault(article.id, where)
        if first != where:
            return CorpusError(article.path, f"duplicate id {article.id!r} (first in {first})", line)
        return article

    # ------------------------------------------------------------ .txt/.md

    def _read_text(self, path: Path, rel: str) -> Iterator[Article | CorpusError]:
        try:
            with open(path, "rb") as f:
                data = f.read(self.max_bytes + 1)
        except OSError as e:
            yield CorpusError(rel, f"cannot read: {e.strerror}")
            return
        text, problem = decode(data)
        if problem:
            yield CorpusError(rel, problem)
            return
        meta = {}
        if path.suffix.lower() == ".md":
            meta, text = _front_matter(text)
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip()), None)
        if start is None:
            yield CorpusError(rel, "empty file")
            return
        title = meta.pop("title", None)        # from front matter: every line is body
        raw_body = "\n".join(lines[start:] if title else lines[start + 1:])
        title = title or lines[start].strip().lstrip("#").strip()
        if self.clean:
            cleaned = clean_article(title, raw_body)
            title, body = cleaned.title, cleaned.body
            meta.setdefault("date", cleaned.date)
            meta.setdefault("source", cleaned.source)
        else:
            body = raw_body.strip()
        if not body.strip():
            yield CorpusError(rel, "empty body (only a title line)")
            return
        article_id = rel[: -len(path.suffix)] if path.suffix else rel
        yield self._register(Article(
            id=article_id, title=title, body=body, path=rel, lang=meta.get("lang"),
            date=_iso_date(meta.get("date")), url=meta.get("url"), source=meta.get("source")))

    # -------------------------------------------------------------- .jsonl

    def _read_jsonl(self, path: Path, rel: str) -> Iterator[Article | CorpusError]:
        try:
            with open(path, "rb") as raw:
                head = raw.read(8192)
                raw.seek(0)
                if head.startswith((b"\xff\xfe", b"\xfe\xff")):
                    stream = io.TextIOWrapper(raw, encoding="utf-16")
                    lines = _text_lines(stream, self.max_bytes // 2)
                elif b"\x00" in head.split(b"\n", 1)[0]:
                    # Binary from the first line on: one report. A NUL in a later line costs
                    # only that line (below), not the good lines around it.
                    yield CorpusError(rel, "binary file (contains NUL bytes)")
                    return
                else:
                    lines = _utf8_lines(raw, self.max_bytes)
                for number, text, problem in lines:
                    if problem:
                        yield CorpusError(rel, problem, number)
                    elif "\x00" in text:
                        yield CorpusError(rel, "line contains NUL bytes (binary data)", number)
                    elif text.strip():
                        yield self._jsonl_record(text, rel, number)
        except OSError as e:
            yield CorpusError(rel, f"cannot read: {e.strerror}")

    def _jsonl_record(self, text: str, rel: str, number: int) -> Article | CorpusError:
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            return CorpusError(rel, f"invalid JSON: {e.msg} (column {e.colno})", number)
        except (ValueError, RecursionError):
            return CorpusError(rel, "invalid JSON", number)
        if not isinstance(record, dict):
            return CorpusError(rel, "line is not a JSON object", number)
        article_id = record.pop("id", None)
        if isinstance(article_id, int) and not isinstance(article_id, bool):
            article_id = str(article_id)
        if not isinstance(article_id, str) or not article_id.strip():
            return CorpusError(rel, "missing required field 'id' (a non-empty string)", number)
        body, title = record.pop("body", None), record.pop("title", None)
        if not isinstance(body, str):
            return CorpusError(rel, "missing required field 'body' (a string)", number)
        if not body.strip():
            return CorpusError(rel, "empty body", number)
        for name in ("title",) + OPTIONAL_FIELDS:
            value = title if name == "title" else record.get(name)
            if value is not None and not isinstance(value, str):
                return CorpusError(rel, f"field {name!r} must be a string", number)
        meta = {name: (record.pop(name, None) or "").strip() or None for name in OPTIONAL_FIELDS}
        body = body.replace("\x00", "").strip()
        return self._register(Article(
            id=article_id.strip(), title=(title or "").strip() or title_from_body(body),
            title_derived=not (title or "").strip(), body=body, path=rel, lang=meta["lang"], date=_iso_date(meta["date"]),
            url=meta["url"], source=meta["source"], extra=record), number)


# ---------------------------------------------------------------- helpers

def decode(data: bytes) -> tuple[str, str | None]:
    """(text, None) or ("", reason). UTF-8 (BOM optional) or UTF-16 with BOM."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return "", "not valid UTF-16 (despite its byte order mark)"
        return ("", "binary file (contains NUL characters)") if "\x00" in text else (text, None)
    if b"\x00" in data:
        return "", "binary file (contains NUL bytes)"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        return "", f"not valid UTF-8 (byte {e.start})"


def _utf8_lines(raw, limit: int):
    """(line number, text, problem) per line, never holding more than `limit`
    bytes of one line in memory."""
    number = 0
    while chunk := raw.readline(limit + 1):
        number += 1
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            while (rest := raw.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass                           # skip the remainder of the oversized line
            yield number, "", f"line too long (over {limit} bytes)"
            continue
        try:
            yield number, chunk.decode("utf-8-sig" if number == 1 else "utf-8"), None
        except UnicodeDecodeError as e:
            yield number, "", f"not valid UTF-8 (byte {e.start} of the line)"


def _text_lines(stream, limit: int):
    number = 0
    while True:
        number += 1
        try:
            line = stream.readline(limit + 1)
        except UnicodeDecodeError:
            yield number, "", "not valid UTF-16; rest of file skipped"
            return
        if not line:
            return
        if len(line) > limit and not line.endswith("\n"):
            yield number, "", f"line too long (over {limit} characters); rest of file skipped"
            return
        yield number, line, None


def _front_matter(text: str) -> tuple[dict, str]:
    """Minimal '---' front matter of 'key: value' lines at the top of a .md file."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end, line in enumerate(lines[1:60], 1):
        if line.strip() == "---":
            meta = {}
            for entry in lines[1:end]:
                key, sep, value = entry.partition(":")
                if sep and key.strip() in ("title",) + OPTIONAL_FIELDS and value.strip():
                    meta[key.strip()] = value.strip().strip("\"'")
            return meta, "\n".join(lines[end + 1:])
    return {}, text


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) >= 10 and parse_date(value[:10]) == value[:10]:
        return value[:10]
    return parse_date(value)
