"""indexer.corpus.read_corpus on the seed corpus and on small corpora in tmp_path."""
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from indexer.article import Article, CorpusError
from indexer.corpus import article_hash, read_corpus

SEEDS = Path(__file__).resolve().parent.parent / "corpus"
XQUAD = Path("/work/shared/eval/xquad-dev/corpus.jsonl")
ARTICLE = "Budget approved\n\nThe council approved the budget on Monday after a long debate.\n"


def read(root, **options):
    items = list(read_corpus(root, **options))
    articles = [item for item in items if isinstance(item, Article)]
    errors = [item for item in items if isinstance(item, CorpusError)]
    assert len(articles) + len(errors) == len(items)
    return articles, errors


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only_error(errors, path) -> CorpusError:
    matching = [e for e in errors if e.path == path]
    assert len(matching) == 1, errors
    return matching[0]


# ------------------------------------------------------------------ seeds

def test_seed_corpus_ingests_cleanly():
    articles, errors = read(SEEDS)
    assert errors == []
    assert [a.id for a in articles] == sorted(p.stem for p in SEEDS.glob("*.txt"))
    by_id = {a.id: a for a in articles}
    thai = by_id["004_e47e9f12b4aac0de"]
    assert thai.path == "004_e47e9f12b4aac0de.txt"
    assert thai.title.startswith("งานต่างประเทศของจังหวัดเหงะอาน")
    assert (thai.date, thai.source) == ("2023-11-27", "Vietnam.vn")
    assert "Agribank" not in thai.body
    assert by_id["002_c38fe071c0a58947"].date == "2024-05-27"
    assert "推动越中立法机构合作" not in by_id["002_c38fe071c0a58947"].body
    assert by_id["000_c67f822c665e0ab4"].source == "VOVWORLD"


def test_clean_false_keeps_the_scraped_body(tmp_path):
    write(tmp_path / "a.txt", "Title\nShare\nBody text here.\nShare\nShare\n")
    [article], _ = read(tmp_path, clean=False)
    assert article.body == "Share\nBody text here.\nShare\nShare"


@pytest.mark.skipif(not XQUAD.exists(), reason="eval corpus not present")
def test_untitled_eval_corpus_ingests():
    articles, errors = read(XQUAD)
    assert errors == [] and len(articles) == 600
    first = articles[0]
    assert first.id == "xquad-en-0" and first.lang == "en" and first.path == "corpus.jsonl"
    assert first.title and first.body.startswith(first.title.rstrip("…"))
    assert len({a.id for a in articles}) == 600


# ------------------------------------------------------- files and layout

def test_ids_nested_dirs_md_and_sorted_order(tmp_path):
    write(tmp_path / "b.txt", ARTICLE)
    write(tmp_path / "a" / "z.md", "# Markdown title\n\nThe body of the markdown article, in a sentence.\n")
    write(tmp_path / "a" / "b" / "c.txt", ARTICLE)
    articles, errors = read(tmp_path)
    assert errors == []
    assert [a.id for a in articles] == ["a/b/c", "a/z", "b"]
    assert [a.path for a in articles] == ["a/b/c.txt", "a/z.md", "b.txt"]
    assert articles[1].title == "Markdown title"
    assert articles[2].title == "Budget approved"
    assert articles[2].body == "The council approved the budget on Monday after a long debate."


def test_markdown_front_matter(tmp_path):
    write(tmp_path / "fm.md", "---\ntitle: \"From front matter\"\ndate: 2024-05-27\nlang: en\n"
                              "url: https://example.org/a\n---\nFirst paragraph is body, not title.\n")
    [article], errors = read(tmp_path)
    assert errors == []
    assert article.title == "From front matter"
    assert article.body == "First paragraph is body, not title."
    assert (article.date, article.lang, article.url) == ("2024-05-27", "en", "https://example.org/a")


def test_hidden_and_media_files_ignored_other_types_reported(tmp_path):
    write(tmp_path / "ok.txt", ARTICLE)
    write(tmp_path / ".hidden.txt", ARTICLE)
    write(tmp_path / ".git" / "x.txt", ARTICLE)
    write(tmp_path / "photo.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    write(tmp_path / "page.html", "<html></html>")
    write(tmp_path / "README", "notes")
    articles, errors = read(tmp_path)
    assert [a.id for a in articles] == ["ok"]
    assert sorted(e.path for e in errors) == ["README", "page.html"]
    assert all("unsupported file type" in e.reason for e in errors)


def test_single_file_root_and_missing_root(tmp_path):
    write(tmp_path / "sub" / "one.txt", ARTICLE)
    [article], _ = read(tmp_path / "sub" / "one.txt")
    assert article.id == "one"
    with pytest.raises(FileNotFoundError):
        list(read_corpus(tmp_path / "missing"))


# ---------------------------------------------------------------- encodings

def test_binary_file_reported(tmp_path):
    write(tmp_path / "bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write(tmp_path / "ok.txt", ARTICLE)
    articles, errors = read(tmp_path)
    assert [a.id for a in articles] == ["ok"]
    assert "binary" in only_error(errors, "bin.txt").reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_bom_encodings_accepted(tmp_path, encoding):
    text = "ข่าวไทย\n\nเนื้อหาของบทความภาษาไทยที่ยาวพอสมควรสำหรับการทดสอบ.\n"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    write(tmp_path / "a.txt", bom + text.encode(encoding))
    [article], errors = read(tmp_path)
    assert errors == [] and article.title == "ข่าวไทย"
    assert article.body == "เนื้อหาของบทความภาษาไทยที่ยาวพอสมควรสำหรับการทดสอบ."


def test_invalid_utf8_reported(tmp_path):
    write(tmp_path / "latin1.txt", "Titre\nCafé crème à l'été.\n".encode("latin-1"))
    _, errors = read(tmp_path)
    assert "not valid UTF-8" in only_error(errors, "latin1.txt").reason


def test_utf16_without_valid_content_reported(tmp_path):
    write(tmp_path / "bad16.txt", b"\xff\xfe" + b"\x00\xd8" + b"a\x00")    # lone surrogate
    _, errors = read(tmp_path)
    assert "UTF-16" in only_error(errors, "bad16.txt").reason


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"), (b"  \n\n\t\n", "empty file"), (b"Only a title\n\n", "empty body"),
])
def test_empty_files_and_bodies_reported(tmp_path, content, reason):
    write(tmp_path / "e.txt", content)
    _, errors = read(tmp_path)
    assert reason in only_error(errors, "e.txt").reason


def test_oversized_file_reported_not_read(tmp_path):
    write(tmp_path / "big.txt", "Title\n" + "x" * 500)
    write(tmp_path / "small.txt", ARTICLE)
    articles, errors = read(tmp_path, max_bytes=200)
    assert [a.id for a in articles] == ["small"]
    assert "too large" in only_error(errors, "big.txt").reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")                 # reading it would block forever
    _, errors = read(tmp_path)
    assert "not a regular file" in only_error(errors, "pipe.txt").reason


# ------------------------------------------------------------------ JSONL

def jsonl(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n"


def test_jsonl_records_fields_and_line_numbered_errors(tmp_path):
    write(tmp_path / "c.jsonl", jsonl(
        {"id": "a", "title": "T", "body": "Body A.", "lang": "vi", "date": "2024-05-27T10:00:00Z",
         "url": "https://x.vn/a", "source": "VnExpress", "section": "world"},
        '{"id": "broken", "body": ',
        "",
        {"id": "b", "lang": "zh", "body": "没有标题的正文。第二句话。"},
        {"title": "no id", "body": "x"},
        {"id": "c", "title": "no body"},
        {"id": "d", "body": "   "},
        ["not", "an", "object"],
        {"id": 7, "body": "Numeric id."},
        {"id": "e", "body": "x", "date": 20240527},
        {"id": "f", "body": "Date in another format.", "date": "27/05/2024"},
    ))
    articles, errors = read(tmp_path)
    by_id = {a.id: a for a in articles}
    assert sorted(by_id) == ["7", "a", "b", "f"]
    a = by_id["a"]
    assert (a.title, a.body, a.lang, a.date, a.url, a.source) == (
        "T", "Body A.", "vi", "2024-05-27", "https://x.vn/a", "VnExpress")
    assert a.extra == {"section": "world"} and a.path == "c.jsonl"
    assert by_id["b"].title == "没有标题的正文。"
    assert by_id["f"].date == "2024-05-27"
    lines = {e.line: e.reason for e in errors}
    assert sorted(lines) == [2, 5, 6, 7, 8, 10]
    assert "invalid JSON" in lines[2]
    assert "'id'" in lines[5] and "'body'" in lines[6] and "empty body" in lines[7]
    assert "not a JSON object" in lines[8] and "'date'" in lines[10]
    assert all(e.path == "c.jsonl" for e in errors)
    assert str(errors[0]).startswith("c.jsonl:2: ")


def test_jsonl_oversized_line_skipped_rest_read(tmp_path):
    write(tmp_path / "c.jsonl", jsonl({"id": "big", "body": "x" * 5000}, {"id": "ok", "body": "fine"}))
    articles, errors = read(tmp_path, max_bytes=1000)
    assert [a.id for a in articles] == ["ok"]
    assert errors[0].line == 1 and "too long" in errors[0].reason


def test_jsonl_bom_utf16_and_invalid_utf8_line(tmp_path):
    write(tmp_path / "bom.jsonl", b"\xef\xbb\xbf" + jsonl({"id": "bom", "body": "b"}).encode())
    write(tmp_path / "u16.jsonl", jsonl({"id": "u16", "body": "ข่าว"}).encode("utf-16"))
    write(tmp_path / "mixed.jsonl", jsonl({"id": "m1", "body": "ok"}).encode()
          + b'{"id": "m2", "body": "caf\xe9"}\n' + jsonl({"id": "m3", "body": "ok"}).encode())
    articles, errors = read(tmp_path)
    assert sorted(a.id for a in articles) == ["bom", "m1", "m3", "u16"]
    error = only_error(errors, "mixed.jsonl")
    assert error.line == 2 and "not valid UTF-8" in error.reason


def test_nul_bytes_in_a_later_jsonl_line_cost_only_that_line(tmp_path):
    write(tmp_path / "c.jsonl", jsonl({"id": "a", "body": "ok"}).encode() + b"\x00\x01garbage\n"
          + jsonl({"id": "b", "body": "ok"}).encode())
    articles, errors = read(tmp_path)
    assert [a.id for a in articles] == ["a", "b"]
    assert [(e.line, e.reason) for e in errors] == [(2, "line contains NUL bytes (binary data)")]


def test_binary_jsonl_reported_once(tmp_path):
    write(tmp_path / "x.jsonl", bytes(range(256)) * 40)
    _, errors = read(tmp_path)
    assert "binary" in only_error(errors, "x.jsonl").reason


# -------------------------------------------------------- duplicates, links

def test_duplicate_ids_second_reported_first_kept(tmp_path):
    write(tmp_path / "a.md", "First\nFirst body sentence.\n")
    write(tmp_path / "a.txt", "Second\nSecond body sentence.\n")
    write(tmp_path / "d.jsonl", jsonl({"id": "x", "body": "one"}, {"id": "x", "body": "two"},
                                      {"id": "a", "body": "three"}))
    articles, errors = read(tmp_path)
    assert [(a.id, a.title) for a in articles] == [("a", "First"), ("x", "one")]
    reasons = {(e.path, e.line): e.reason for e in errors}
    assert set(reasons) == {("a.txt", None), ("d.jsonl", 2), ("d.jsonl", 3)}
    assert "duplicate id 'a' (first in a.md)" in reasons[("a.txt", None)]
    assert "first in d.jsonl:1" in reasons[("d.jsonl", 2)]


def test_symlinks(tmp_path):
    outside = write(tmp_path / "outside" / "secret.txt", "Secret\nTOP SECRET CONTENT.\n")
    root = tmp_path / "root"
    write(root / "real" / "r.txt", ARTICLE)
    (root / "leak.txt").symlink_to(outside)
    (root / "leakdir").symlink_to(outside.parent, target_is_directory=True)
    (root / "inside.txt").symlink_to(root / "real" / "r.txt")
    (root / "loopdir").symlink_to(root / "real", target_is_directory=True)
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")
    articles, errors = read(root)
    assert sorted(a.id for a in articles) == ["inside", "real/r"]
    assert not any("SECRET" in a.body or "Secret" in a.title for a in articles)
    assert "outside the corpus root" in only_error(errors, "leak.txt").reason
    assert "outside the corpus root" in only_error(errors, "leakdir").reason
    assert "broken symlink" in only_error(errors, "dangling.txt").reason
    assert len(errors) == 3


# ------------------------------------------------------------------- hash

def test_article_hash_tracks_content_not_path():
    a = Article(id="x", title="T", body="B", date="2024-05-27", path="x.txt")
    same = Article(id="x", title="T", body="B", date="2024-05-27", path="moved/x.txt")
    assert article_hash(a) == article_hash(same)
    assert len(article_hash(a)) == 64
    for changed in (Article(id="y", title="T", body="B", date="2024-05-27"),
                    Article(id="x", title="T2", body="B", date="2024-05-27"),
                    Article(id="x", title="T", body="B.", date="2024-05-27"),
                    Article(id="x", title="T", body="B", date="2024-05-28"),
                    Article(id="x", title="T", body="B", date="2024-05-27", source="S"),
                    Article(id="x", title="T", body="B", date="2024-05-27", extra={"k": 1})):
        assert article_hash(changed) != article_hash(a)


# ------------------------------------------------------------- property

@settings(max_examples=200, deadline=None)
@given(content=st.one_of(
    st.binary(max_size=600),
    st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.text(max_size=200).map(lambda t: t.encode("utf-16", "surrogatepass")),
), suffix=st.sampled_from([".txt", ".md", ".jsonl"]))
def test_read_corpus_never_raises_on_arbitrary_bytes(content, suffix):
    with tempfile.TemporaryDirectory() as root:
        write(Path(root) / f"f{suffix}", content)
        items = list(read_corpus(root, max_bytes=400))
        assert all(isinstance(item, (Article, CorpusError)) for item in items)
        for item in items:
            if isinstance(item, Article):
                assert item.body.strip() and item.id
