"""The `polysearch` command, run in-process through its main()."""
import json
from pathlib import Path

import pytest

from web.cli import main

REPO = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_prints_tokens_with_offsets(capsys):
    code, out, _ = run(capsys, "analyze", "Hải Phòng 友好", "--json")
    data = json.loads(out)
    assert code == 0
    text = "Hải Phòng 友好"
    assert [(t["token"], text[t["start"]:t["end"]]) for t in data["tokens"]] == [
        ("hai", "Hải"), ("phong", "Phòng"), ("友好", "友好")]
    code, out, _ = run(capsys, "analyze", "วิทยุ", "--lang", "th")
    assert code == 0 and "0-5" in out and "วิทยุ" in out


def test_index_search_batch_and_eval(capsys, tmp_path):
    index = str(tmp_path / "index")
    code, out, err = run(capsys, "index", "--corpus", str(REPO / "corpus"), "--index", index, "--quiet")
    assert code == 0 and "5 added" in out

    code, out, _ = run(capsys, "search", "เหงะอาน", "--index", index, "--json")
    assert code == 0 and json.loads(out)["results"][0]["id"] == "004_e47e9f12b4aac0de"

    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\tเหงะอาน\nq2\t民间外交\n", encoding="utf-8")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 004_e47e9f12b4aac0de 1\nq2 0 002_c38fe071c0a58947 1\n", encoding="utf-8")
    runfile = tmp_path / "run.txt"
    code, _, _ = run(capsys, "search", "--batch", str(topics), "--format", "trec", "-k", "100",
                     "--index", index, "-o", str(runfile))
    lines = runfile.read_text().splitlines()
    assert code == 0 and lines[0].split()[:4] == ["q1", "Q0", "004_e47e9f12b4aac0de", "1"]
    assert all(len(line.split()) == 6 and line.endswith("polysearch") for line in lines)

    code, out, _ = run(capsys, "eval", "--run", str(runfile), "--qrels", str(qrels), "--json")
    assert code == 0 and json.loads(out)["overall"]["MRR@10"] == 1.0


def test_errors_are_reported_not_raised(capsys, tmp_path):
    code, _, err = run(capsys, "search", "x", "--index", str(tmp_path / "none"))
    assert code == 2 and "no index" in err
    code, _, err = run(capsys, "index", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i"))
    assert code == 2 and "not found" in err


def test_eval_reports_missing_and_malformed_files(capsys, tmp_path, web_index_dir):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", "--run", str(tmp_path / "no-such.run"), "--qrels", str(qrels))
    assert code == 2 and err.startswith("error:") and "no-such.run" in err
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1 with no tab\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", "--topics", str(topics), "--qrels", str(qrels),
                       "--index", str(web_index_dir))
    assert code == 2 and err.startswith("error:") and "topics.tsv" in err and "qid<TAB>query" in err


def test_serve_refuses_fewer_than_one_worker_or_thread(capsys):
    for argv in (["serve", "--threads", "0"], ["serve", "--workers", "-1"], ["serve", "--threads", "two"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "must be at least 1" in err or "not a whole number: 'two'" in err
