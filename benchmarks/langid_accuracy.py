"""Accuracy and speed of analyzers.langid on the xquad-dev collection.

Queries: every question of topics.<lang>.tsv (the file name is the truth),
also with Vietnamese tone marks stripped.  Documents: the first sentence of
each corpus.jsonl paragraph (its "lang" field is the truth).

    python benchmarks/langid_accuracy.py [--eval-dir /work/shared/eval/xquad-dev]
"""
import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import regex

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from analyzers.langid import detect_language  # noqa: E402
from analyzers.normalize import fold_diacritics  # noqa: E402

DEFAULT_EVAL_DIR = REPO_ROOT.parent / "shared" / "eval" / "xquad-dev"
# Sentence end: Latin/Arabic punctuation followed by space, CJK full stops, Thai has none
# (a space between phrases is the closest thing, so Thai keeps up to the first space run
# after 40 characters).
_SENTENCE_END = regex.compile(r"(?<=[.!?؟])\s+|(?<=[。！？])")


def first_sentence(body: str, lang: str) -> str:
    if lang == "th":
        cut = body.find(" ", 40)
        return body if cut < 0 else body[:cut]
    return _SENTENCE_END.split(body.strip(), maxsplit=1)[0]


def load_topics(eval_dir: Path) -> list[tuple[str, str]]:
    """(true language, question) for every topics.<lang>.tsv."""
    samples = []
    for path in sorted(eval_dir.glob("topics.*.tsv")):
        lang = path.name.split(".")[1]
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                samples.append((lang, line.split("\t", 1)[1]))
    return samples


def load_first_sentences(eval_dir: Path) -> list[tuple[str, str]]:
    samples = []
    with open(eval_dir / "corpus.jsonl", encoding="utf-8") as corpus:
        for line in corpus:
            doc = json.loads(line)
            samples.append((doc["lang"], first_sentence(doc["body"], doc["lang"])))
    return samples


def score(title: str, samples: list[tuple[str, str]]) -> float:
    per_lang: dict[str, Counter] = defaultdict(Counter)
    confusions = Counter()
    errors = []
    for truth, text in samples:
        guess = detect_language(text)
        per_lang[truth]["n"] += 1
        if guess == truth:
            per_lang[truth]["ok"] += 1
        else:
            confusions[(truth, guess)] += 1
            errors.append((truth, guess, text))
    total = sum(c["n"] for c in per_lang.values())
    correct = sum(c["ok"] for c in per_lang.values())
    print(f"\n{title}")
    for lang, c in sorted(per_lang.items()):
        print(f"  {lang:4} {c['ok']:5}/{c['n']:<5} {c['ok'] / c['n']:7.2%}")
    print(f"  {'all':4} {correct:5}/{total:<5} {correct / total:7.2%}")
    if confusions:
        print("  confusions (truth -> guess: count):",
              ", ".join(f"{t}->{g}: {n}" for (t, g), n in confusions.most_common()))
        for truth, guess, text in errors[:15]:
            print(f"    {truth}->{guess}  {text[:90]!r}")
    return correct / total


def timing(samples: list[tuple[str, str]]) -> None:
    detect_language("warm up the model")
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, text in samples:
        by_lang[lang].append(text)
    print("\nspeed (per query, model loaded)")
    for lang, texts in sorted(by_lang.items()):
        start = time.perf_counter()
        for text in texts:
            detect_language(text)
        elapsed = (time.perf_counter() - start) / len(texts)
        print(f"  {lang:4} {elapsed * 1e3:7.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    args = parser.parse_args()
    if not args.eval_dir.is_dir():
        sys.exit(f"no evaluation data at {args.eval_dir}")
    start = time.perf_counter()
    detect_language("load the model")
    print(f"model load: {time.perf_counter() - start:.2f} s")
    topics = load_topics(args.eval_dir)
    score("queries (xquad-dev topics)", topics)
    toneless_vi = [(lang, fold_diacritics(q)) for lang, q in topics if lang == "vi"]
    score("queries, Vietnamese without tone marks", toneless_vi)
    score("documents (first sentence of each paragraph)", load_first_sentences(args.eval_dir))
    timing(topics)


if __name__ == "__main__":
    main()
