"""A synthetic multilingual news corpus of any size, deterministic by seed.

    python benchmarks/corpus_gen.py --articles 10000 --out .cache/bench/corpus-10k [--seed 6]

Articles in th, zh, ar, vi and en (one fifth each), written as JSONL shards of
10,000 lines in the corpus format (id, lang, title, body, date, source, url).
The words are real and drawn with their real frequencies:

* th: the Thai National Corpus frequency list that PyThaiNLP ships (tnc_freq.txt);
* zh: jieba's dictionary with its counts (dict.txt, the 100k most frequent all-Han words);
* ar, vi, en: unigram counts of the XQuAD dev paragraphs (../shared/eval) and the seed
  articles in corpus/ (a smaller vocabulary than real news: postings are longer, so
  query cost is, if anything, overstated);
* every language: place and organisation names from the entity lexicon, a few per article.

Words are drawn independently (a unigram model), so sentences are not grammatical, but
the analyzers see real words, real scripts and realistic lengths: titles of 6–14 words,
bodies of 300–1,500 words (log-normal, median ~520), sentences of 8–30 words, dates from
2015 to 2026 and a handful of sources per language. Article i depends only on (seed, i),
so any slice can be generated independently (and in parallel).
"""
import argparse
import json
import math
import os
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import regex

REPO_ROOT = Path(__file__).resolve().parent.parent
XQUAD_CORPUS = Path(os.environ.get("POLYSEARCH_XQUAD", REPO_ROOT.parent / "shared/eval/xquad-dev/corpus.jsonl"))
if not XQUAD_CORPUS.exists():
    XQUAD_CORPUS = Path("/work/shared/eval/xquad-dev/corpus.jsonl")
LANGS = ("th", "zh", "ar", "vi", "en")
SHARD_SIZE = 10_000
BODY_WORDS = (300, 1500)
BODY_MEDIAN, BODY_SIGMA = 520, 0.4
TITLE_WORDS = (6, 14)
SENTENCE_WORDS = (8, 30)
ENTITIES_PER_ARTICLE = 4
FIRST_DAY, DAYS = date(2015, 1, 1), 4300
SOURCES = {
    "th": ["thaipbs.or.th", "matichon.co.th", "thairath.co.th", "prachachat.net", "vovworld.vn/th"],
    "zh": ["xinhuanet.com", "people.com.cn", "chinanews.com.cn", "zaobao.com", "vovworld.vn/zh"],
    "ar": ["aljazeera.net", "alarabiya.net", "aawsat.com", "skynewsarabia.com", "vovworld.vn/ar"],
    "vi": ["vnexpress.net", "tuoitre.vn", "thanhnien.vn", "vov.vn", "baoquocte.vn"],
    "en": ["reuters.com", "e.vnexpress.net", "bangkokpost.com", "scmp.com", "vovworld.vn/en"],
}
_THAI = regex.compile(r"^\p{Thai}+$")
_HAN = regex.compile(r"^\p{Han}+$")
_WORD = regex.compile(r"[\p{L}\p{M}]+(?:['’-][\p{L}\p{M}]+)*")


def _package_file(package: str, name: str) -> Path:
    import importlib.util

    return Path(importlib.util.find_spec(package).submodule_search_locations[0]) / name


def _xquad_counts() -> dict[str, Counter]:
    counts = {lang: Counter() for lang in LANGS}
    with XQUAD_CORPUS.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["lang"] in ("ar", "vi", "en"):
                counts[record["lang"]].update(_WORD.findall(record["body"]))
    return counts


def _seed_counts(counts: dict[str, Counter]) -> None:
    """Seed articles (corpus/*.txt) are Vietnamese news translated into several languages."""
    from analyzers.scripts import ARABIC, dominant_script

    for path in sorted((REPO_ROOT / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        script = dominant_script(text)
        if script == ARABIC:
            counts["ar"].update(_WORD.findall(text))


@lru_cache(maxsize=1)
def vocabularies() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{lang: (words, cumulative probabilities)}, words sorted by descending frequency."""
    counts = _xquad_counts()
    _seed_counts(counts)
    with _package_file("pythainlp", "corpus/tnc_freq.txt").open(encoding="utf-8") as f:
        for line in f:
            word, _, n = line.rstrip("\n").partition("\t")
            if _THAI.match(word) and n.isdigit():
                counts["th"][word] += int(n)
    zh = []
    with _package_file("jieba", "dict.txt").open(encoding="utf-8") as f:
        for line in f:
            parts = line.split(" ")
            if len(parts) >= 2 and _HAN.match(parts[0]) and parts[1].isdigit():
                zh.append((int(parts[1]), parts[0]))
    zh.sort(reverse=True)
    counts["zh"].update({word: n for n, word in zh[:100_000]})
    vocab = {}
    for lang in LANGS:
        ranked = counts[lang].most_common()
        words = np.array([w for w, _ in ranked], dtype=object)
        freqs = np.array([n for _, n in ranked], dtype=np.float64)
        cdf = np.cumsum(freqs)
        vocab[lang] = (words, cdf / cdf[-1])
    return vocab


@lru_cache(maxsize=1)
def entity_names() -> dict[str, list[str]]:
    """First-listed name per language of every place/organisation in the lexicon."""
    names = {lang: [] for lang in LANGS}
    header = None
    with (REPO_ROOT / "analyzers/data/entities.tsv").open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cells = line.rstrip("\n").split("\t")
            if header is None:
                header = cells
                continue
            row = dict(zip(header, cells))
            if row.get("type") == "block":
                continue
            for lang in LANGS:
                name = (row.get(lang) or "").split("|")[0].strip().lstrip("=").rstrip("?")
                if name:
                    names[lang].append(name)
    return names


def _sample(rng, lang: str, n: int) -> list[str]:
    words, cdf = vocabularies()[lang]
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return list(words[np.minimum(idx, len(words) - 1)])


def _sentence(rng, lang: str, words: list[str]) -> str:
    if lang == "th":
        return "".join(words)                   # Thai: no spaces inside a sentence
    if lang == "zh":
        # A comma every 6-12 words, a full stop at the end.
        out, since = [], 0
        for w in words:
            out.append(w)
            since += 1
            if since >= 6 and rng.random() < 0.2:
                out.append("，")
                since = 0
        return "".join(out).rstrip("，") + "。"
    text = " ".join(words)
    if lang in ("en", "vi"):
        text = text[:1].upper() + text[1:]
    return text + ("." if lang != "ar" else ".")


def _text(rng, lang: str, n_words: int, entities: int) -> str:
    words = _sample(rng, lang, n_words)
    names = entity_names()[lang]
    if names and entities:
        for pos in rng.integers(0, n_words, size=entities):
            words[pos] = names[rng.integers(len(names))]
    sentences, i = [], 0
    while i < n_words:
        k = int(rng.integers(SENTENCE_WORDS[0], SENTENCE_WORDS[1] + 1))
        sentences.append(_sentence(rng, lang, words[i:i + k]))
        i += k
    # Paragraphs of 3-6 sentences.
    paragraphs, j = [], 0
    while j < len(sentences):
        k = int(rng.integers(3, 7))
        paragraphs.append(" ".join(sentences[j:j + k]))
        j += k
    return "\n\n".join(paragraphs)


def article(seed: int, i: int) -> dict:
    """Article number i of the corpus with this seed."""
    rng = np.random.default_rng([seed, i])
    lang = LANGS[i % len(LANGS)]
    body_words = int(np.clip(rng.lognormal(math.log(BODY_MEDIAN), BODY_SIGMA), *BODY_WORDS))
    title_words = int(rng.integers(TITLE_WORDS[0], TITLE_WORDS[1] + 1))
    day = FIRST_DAY + timedelta(days=int(rng.integers(DAYS)))
    source = SOURCES[lang][int(rng.integers(len(SOURCES[lang])))]
    doc_id = f"{lang}-{i:07d}"
    title = _text(rng, lang, title_words, 1).rstrip(".。")
    return {"id": doc_id, "lang": lang, "title": title,
            "body": _text(rng, lang, body_words, ENTITIES_PER_ARTICLE),
            "date": day.isoformat(), "source": source,
            "url": f"https://{source}/{day:%Y/%m/%d}/{doc_id}"}


def _write_shard(args) -> int:
    seed, start, stop, path = args
    tmp = Path(f"{path}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for i in range(start, stop):
            f.write(json.dumps(article(seed, i), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return stop - start


def generate(n: int, out_dir, seed: int = 6, procs: int | None = None) -> Path:
    """Write n articles as JSONL shards into out_dir (reused if already complete)."""
    out = Path(out_dir)
    done = out / ".complete"
    stamp = json.dumps({"articles": n, "seed": seed})
    if done.exists() and done.read_text() == stamp:
        return out
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jsonl*"):
        old.unlink()
    jobs = [(seed, start, min(n, start + SHARD_SIZE), str(out / f"part-{start // SHARD_SIZE:05d}.jsonl"))
            for start in range(0, n, SHARD_SIZE)]
    vocabularies(), entity_names()   # loaded once before forking
    procs = procs or min(2, os.cpu_count() or 1)
    if procs > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(procs) as pool:
            list(pool.map(_write_shard, jobs))
    else:
        for job in jobs:
            _write_shard(job)
    done.write_text(stamp)
    return out


def query_mix(per_lang: int = 40, seed: int = 6) -> list[tuple[str, str]]:
    """A fixed mix of (lang, query) of 1-4 words per language, from the mid-frequency
    vocabulary (ranks 50-5000: content words, neither stopwords nor hapaxes)."""
    rng = np.random.default_rng([seed, 2**31])
    mix = []
    for lang in LANGS:
        words, _ = vocabularies()[lang]
        band = words[50:5000]
        for q in range(per_lang):
            n = 1 + q % 4
            picked = [band[k] for k in rng.integers(len(band), size=n)]
            mix.append((lang, ("" if lang in ("th", "zh") else " ").join(picked)))
    return mix


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, required=True)
    parser.add_argument("--out", required=True, help="output directory (JSONL shards)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--procs", type=int)
    args = parser.parse_args(argv)
    out = generate(args.articles, args.out, args.seed, args.procs)
    print(f"{args.articles} articles in {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
