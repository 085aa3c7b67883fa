"""Analyzer throughput per language on real text, and the one-off dictionary load times.

    python benchmarks/analyzers.py [--min-seconds 1.0] [--rounds 3]

Texts: the xquad-dev paragraphs (/work/shared/eval/xquad-dev/corpus.jsonl, one JSON
object per line with id, lang, body) and the seed articles in corpus/. Each
language's texts go through that language's field analyzer (Vietnamese also
through the accent-exact one), as at indexing time. Prints a table and writes
benchmarks/out/analyzers.json.
"""
import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

XQUAD_CORPUS = Path("/work/shared/eval/xquad-dev/corpus.jsonl")
SEED_DIR = REPO_ROOT / "corpus"
OUT_FILE = REPO_ROOT / "benchmarks" / "out" / "analyzers.json"


def measure_dictionary_loads() -> dict[str, float]:
    """Seconds to load each lazily loaded resource; must run before anything else touches them."""
    from analyzers.chinese import initialize as load_jieba
    from analyzers.normalize import to_simplified_same_length
    from analyzers.thai import SEGMENTER

    loads = {}
    for name, load in (("jieba prefix dictionary", load_jieba),
                       ("newmm (PyThaiNLP) trie", SEGMENTER.get),
                       ("OpenCC t2s", lambda: to_simplified_same_length("測試"))):
        started = time.perf_counter()
        load()
        loads[name] = time.perf_counter() - started
    return loads


def load_texts() -> dict[str, dict[str, list[str]]]:
    """{source: {lang: [text, ...]}} for the xquad paragraphs and the seed articles."""
    from analyzers.scripts import ARABIC, HAN, THAI, dominant_script

    xquad: dict[str, list[str]] = {}
    with XQUAD_CORPUS.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            xquad.setdefault(record["lang"], []).append(record["body"])
    # Seed articles carry no language tag; their dominant script decides.
    seed_lang = {THAI: "th", HAN: "zh", ARABIC: "ar"}
    seed: dict[str, list[str]] = {}
    for path in sorted(SEED_DIR.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        seed.setdefault(seed_lang.get(dominant_script(text), "other"), []).append(text)
    return {"xquad-dev": xquad, "seed": seed}


def throughput(analyzer, texts: list[str], min_seconds: float, rounds: int) -> dict:
    """Best-of-rounds chars/s, each round repeating the texts for at least min_seconds."""
    chars = sum(len(t) for t in texts)
    tokens = 0
    for text in texts:  # warm-up: caches (stemmers, OpenCC, jieba) as in a running indexer
        tokens += sum(1 for _ in analyzer(text, positions=True, chars=True, mode="index"))
    best = 0.0
    for _ in range(rounds):
        passes = 0
        started = time.perf_counter()
        while True:
            for text in texts:
                for _ in analyzer(text, positions=True, chars=True, mode="index"):
                    pass
            passes += 1
            elapsed = time.perf_counter() - started
            if elapsed >= min_seconds:
                break
        best = max(best, chars * passes / elapsed)
    return {"texts": len(texts), "chars": chars, "tokens": tokens, "chars_per_s": best,
            "tokens_per_s": best * tokens / chars if chars else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-seconds", type=float, default=1.0, help="minimum duration of one timed round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per row (best is kept)")
    args = parser.parse_args()

    loads = measure_dictionary_loads()  # first, so nothing else has loaded the dictionaries yet

    from analyzers import analyzer_for

    rows = []
    for source, by_lang in load_texts().items():
        for lang in sorted(by_lang):
            variants = [(lang, analyzer_for(lang))]
            if lang == "vi":
                variants.append(("vi-exact", analyzer_for("vi", exact=True)))
            for name, analyzer in variants:
                result = throughput(analyzer, by_lang[lang], args.min_seconds, args.rounds)
                rows.append({"source": source, "analyzer": name, **result})

    print("One-off loads")
    for name, seconds in loads.items():
        print(f"  {name:<26} {seconds * 1000:8.0f} ms")
    print()
    print(f"{'source':<10} {'analyzer':<9} {'texts':>5} {'chars':>9} {'tokens':>7} {'chars/s':>11} {'tokens/s':>10}")
    for row in rows:
        print(f"{row['source']:<10} {row['analyzer']:<9} {row['texts']:>5} {row['chars']:>9,} "
              f"{row['tokens']:>7,} {row['chars_per_s']:>11,.0f} {row['tokens_per_s']:>10,.0f}")

    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(json.dumps({
        "python": platform.python_version(),
        "machine": platform.machine(),
        "min_seconds": args.min_seconds,
        "rounds": args.rounds,
        "load_seconds": loads,
        "throughput": rows,
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
