"""Bad corpus input, end to end through `polysearch index`: every bad file or line is reported
with its path and a reason, every good article is still indexed, and nothing outside the
corpus root is opened or listed (checked with a Python audit hook on every open and
directory listing the indexer makes). tests/test_corpus.py covers the reader case by case.
"""
import json
import os
import time
from pathlib import Path

import pytest

from figures import record
from file_access import file_accesses
from indexer.build import build_index
from indexer.engine import SearchEngine
from indexer.results import SearchRequest
from web.cli import main as cli_main

ARTICLE = "{title}\n\nThe {word} council approved the budget on Monday after a long debate about roads.\n"
HUNDRED_MB = 100 * 1024 * 1024


def hostile_corpus(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """(corpus root, a directory outside it, {reported path: expected reason fragment})."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(ARTICLE.format(title="Secret", word="topsecretzq"), encoding="utf-8")
    (outside / "secret.jsonl").write_text(json.dumps({"id": "s", "body": "topsecretzq"}) + "\n", encoding="utf-8")
    root = tmp_path / "corpus"
    (root / "news" / "deep").mkdir(parents=True)
    good = {
        "good1.txt": ARTICLE.format(title="Good one", word="goodonezq"),
        "news/good2.md": "---\ntitle: Good two\nlang: en\n---\n" + ARTICLE.format(title="", word="goodtwozq"),
        "news/deep/good3.txt": ARTICLE.format(title="Good three", word="goodthreezq"),
    }
    for rel, text in good.items():
        (root / rel).write_text(text, encoding="utf-8")
    (root / "lines.jsonl").write_text("\n".join([
        json.dumps({"id": "j1", "title": "Line one", "body": "goodjsonlzq first line", "lang": "en"}),
        '{"id": "j2", "body": ',                                     # broken JSON
        json.dumps({"id": "j1", "body": "a duplicate id"}),          # duplicate
        json.dumps({"id": "j3", "title": "Line three", "body": "goodjsonlzq third line", "lang": "en"}),
        json.dumps(["not", "an", "object"]),
        "\x00\x01garbage line",
    ]) + "\n", encoding="utf-8")
    (root / "dup.txt").write_text(ARTICLE.format(title="Dup", word="dup"), encoding="utf-8")
    (root / "dup.md").write_text(ARTICLE.format(title="Dup again", word="dup"), encoding="utf-8")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (root / "latin1.txt").write_bytes("Titre\nCafé crème à l'été, déjà vu.\n".encode("latin-1"))
    (root / "bad16.txt").write_bytes(b"\xff\xfe" + b"\x00\xd8" + "ab".encode("utf-16-le"))
    (root / "empty.txt").write_bytes(b"")
    for name in ("huge.txt", "huge.jsonl"):                          # sparse: 100 MB on paper
        with open(root / name, "wb") as f:
            f.truncate(HUNDRED_MB)
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "leak.jsonl").symlink_to(os.path.relpath(outside / "secret.jsonl", root))
    (root / "news" / "deep" / "up.txt").symlink_to("../../../outside/secret.txt")
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "chain.txt").symlink_to(root / "leak.txt")               # inside link to an outside link
    (root / "notes.docx").write_bytes(b"PK\x03\x04")
    expected = {
        "lines.jsonl:2": "invalid JSON", "lines.jsonl:3": "duplicate id 'j1'", "lines.jsonl:5": "not a JSON object",
        "lines.jsonl:6": "NUL bytes", "dup.txt": "duplicate id 'dup'", "binary.txt": "binary",
        "latin1.txt": "not valid UTF-8", "bad16.txt": "UTF-16", "empty.txt": "empty file",
        "huge.txt": "too large", "huge.jsonl": "binary", "leak.txt": "outside the corpus root",
        "leak.jsonl": "outside the corpus root", "news/deep/up.txt": "outside the corpus root",
        "leakdir": "outside the corpus root", "chain.txt": "outside the corpus root",
        "notes.docx": "unsupported file type",
    }
    return root, outside, expected


def where(error) -> str:
    return f"{error.path}:{error.line}" if error.line else error.path


def test_bad_input_reported_good_indexed_outside_never_read(tmp_path):
    root, outside, expected = hostile_corpus(tmp_path)
    errors = []
    started = time.perf_counter()
    with file_accesses() as accessed:
        summary = build_index(root, tmp_path / "index", on_error=errors.append)
    seconds = time.perf_counter() - started

    reported = {where(e): e.reason for e in errors}
    assert set(reported) == set(expected), sorted(set(reported) ^ set(expected))
    for path, fragment in expected.items():
        assert fragment in reported[path], (path, reported[path])
    assert summary.failed == len(expected)

    engine = SearchEngine(tmp_path / "index")
    ids = {f["id"] for f in engine.generation.searcher().all_stored_fields()}
    assert ids == {"good1", "news/good2", "news/deep/good3", "j1", "j3", "dup"}
    for word in ("goodonezq", "goodtwozq", "goodthreezq"):
        assert engine.search(SearchRequest(word, mode="lexical")).total == 1, word
    assert engine.search(SearchRequest("topsecretzq", mode="lexical")).total == 0

    outside_real = str(outside.resolve())
    leaked = [(event, p) for event, p in accessed
              if os.path.realpath(p).startswith(outside_real) or p.startswith(str(outside))]
    assert leaked == [], leaked
    opened = {os.path.relpath(p, root) for event, p in accessed if event == "open" and p.startswith(str(root))}
    assert {"good1.txt", "news/deep/good3.txt", "lines.jsonl"} <= opened   # the hook does see reads
    assert "huge.txt" not in opened                 # refused by its size, never opened
    assert seconds < 60
    record("bad_corpus", {"bad_inputs": len(expected), "reported": len(errors), "good_indexed": len(ids),
                          "outside_reads": len(leaked), "index_seconds": round(seconds, 2)})


def test_cli_reports_each_bad_file_with_path_and_reason(tmp_path, capsys):
    root, _, expected = hostile_corpus(tmp_path)
    code = cli_main(["index", "--corpus", str(root), "--index", str(tmp_path / "index"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0 and "6 documents" in out and f"{len(expected)} failed" in out
    skipped = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == len(expected)
    for path, fragment in expected.items():
        assert any(line.startswith(f"skipped {path}: ") and fragment in line for line in skipped), path
    assert "topsecretzq" not in out + err


@pytest.mark.slow
def test_real_100mb_jsonl_line_is_skipped_and_the_rest_read(tmp_path):
    """A JSONL file with a real (not sparse) 100 MB line: skipped with its line number, read in
    bounded memory, and the lines after it are indexed."""
    root = tmp_path / "corpus"
    root.mkdir()
    with open(root / "big.jsonl", "wb") as f:
        f.write(json.dumps({"id": "before", "body": "beforezq text"}).encode() + b"\n")
        f.write(b'{"id": "huge", "body": "')
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write(b'"}\n' + json.dumps({"id": "after", "body": "afterzq text"}).encode() + b"\n")
    errors = []
    started = time.perf_counter()
    summary = build_index(root, tmp_path / "index", on_error=errors.append)
    seconds = time.perf_counter() - started
    assert [(e.path, e.line) for e in errors] == [("big.jsonl", 2)] and "too long" in errors[0].reason
    assert summary.documents == 2
    record("bad_corpus_100mb_line", {"seconds": round(seconds, 2)})
