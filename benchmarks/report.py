"""The scale table (markdown) from benchmarks/out/scale-*.json.

    python benchmarks/report.py [benchmarks/out/scale-10000.json ...]
"""
import json
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent / "out"


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def _floor(floor: dict) -> str:
    text = f"{floor['seconds_on_cores']:,.1f} s"
    if "after_seconds_on_cores" in floor:     # measured before and after the reindex: their mean
        text += f" (mean of {floor['before_seconds_on_cores']:,.1f} before, {floor['after_seconds_on_cores']:,.1f} after)"
    return text


def rows(r: dict) -> list[tuple[str, str, str]]:
    """(figure, value, target) rows for one run."""
    ix, q = r["indexing"], r["query"]
    out = [
        ("1. full reindex", f"{ix['index_seconds']:,.1f} s ({ix['articles_per_s']:,.0f} articles/s)"
                            + (f", run of {ix['carried_over_from'][:10]}" if ix.get("carried_over_from") else ""), ""),
        ("   tokenization floor (2 cores)", _floor(ix["floor"]), ""),
        ("   reindex / floor", f"{ix['ratio_vs_floor']:.2f}×", "≤ 1.5× at 100k"),
        ("2. search p50 / p95 / p99", f"{q['search']['p50']:.1f} / {q['search']['p95']:.1f} / {q['search']['p99']:.1f} ms", ""),
        ("   retrieve top-10 p50 / p99", f"{q['retrieve']['p50']:.1f} / {q['retrieve']['p99']:.1f} ms", ""),
        ("   tantivy top-10 p50 / p99 (incl. query analysis)", f"{q['tantivy']['p50']:.1f} / {q['tantivy']['p99']:.1f} ms", ""),
        ("   tantivy top-10, engine only, p50", f"{q['tantivy_engine_only']['p50']:.2f} ms", ""),
    ]
    if "tantivy_page" in q:      # runs before 2026-12-02 05:00 had no tantivy page
        out += [
            ("   tantivy page p50 / p99 (total, facets, 10 snippets)",
             f"{q['tantivy_page']['p50']:.1f} / {q['tantivy_page']['p99']:.1f} ms", ""),
            ("   search p50 / tantivy page p50", f"{q['ratio_p50_search_vs_tantivy_page']:.2f}×", "≤ 3×"),
            ("   search p50 / tantivy top-10 p50", f"{q['ratio_p50_search_vs_tantivy']:.2f}×", ""),
        ]
    else:
        out.append(("   search p50 / tantivy top-10 p50", f"{q['ratio_p50_search_vs_tantivy']:.2f}×", "≤ 3×"))
    out += [
        ("   retrieve p50 / tantivy top-10 p50", f"{q['ratio_p50_retrieve_vs_tantivy']:.2f}×", "≤ 3×"),
        ("   search p99 / search p50", f"{q['ratio_p99_vs_p50_search']:.2f}×", "≤ 10×"),
    ]
    if "search_cold_postings" in q:
        c, cache = q["search_cold_postings"], q["posting_cache"]
        looked_up = (cache["hits"] + cache["misses"]) or 1
        out += [
            ("   search, posting cache emptied before each query: p50 / p99",
             f"{c['p50']:.1f} / {c['p99']:.1f} ms ({q['ratio_p50_cold_postings_vs_tantivy']:.1f}× tantivy top-10)", ""),
            ("   posting cache after the timed rounds",
             f"{_mb(cache['bytes'])}, {cache['hits'] / looked_up:.0%} of term lookups hit", ""),
        ]
    if "hybrid" in r:
        h = r["hybrid"]
        out.append(("3. hybrid p50 / lexical p50",
                    f"{h['ratio_p50']:.2f}× (lexical {h['lexical']['p50']:.1f} ms, hybrid {h['hybrid']['p50']:.1f} ms, "
                    f"query embedding {h['query_embedding']['p50']:.1f} ms; {h['note']})", "≤ 1.5×"))
        if "ratio_p50_float32" in h:
            out.append(("   with the float32 product instead (same run)",
                        f"{h['ratio_p50_float32']:.2f}× (hybrid {h['hybrid_float32']['p50']:.1f} ms)", ""))
    if "http" in r:
        h = r["http"]
        out += [
            ("4. HTTP requests/s (2 workers, wrk)", f"{h['requests_per_s']:,.1f}", ""),
            ("   in-process search/s × 2", f"{q['inprocess_search_per_s'] * h['workers']:,.1f}", ""),
            ("   HTTP / in-process", f"{h['ratio_vs_inprocess'] * 100:.0f}%", "≥ 70%"),
        ]
        if "parallel_inprocess" in h:     # from 2026-12-02 08:30
            p = h["parallel_inprocess"]
            out += [("   in-process search/s, 2 loops at once", f"{p['searches_per_s']:,.1f} "
                     f"({p['searches_per_s'] / (q['inprocess_search_per_s'] * h['workers']) * 100:.0f}% of × 2)", ""),
                    ("   HTTP / 2 in-process loops at once", f"{h['ratio_vs_parallel_inprocess'] * 100:.0f}%", "")]
        if h.get("worker_cpu_balance") is not None:   # runs before it was recorded lack it
            out.append(("   each worker's CPU during the load (least / most)",
                        f"{', '.join(f'{v:.1f} s' for v in h['worker_cpu_seconds'].values())} "
                        f"({h['worker_cpu_balance']:.2f})", ""))
        out += [
            ("5. server peak RSS (all processes)", _mb(h["peak_rss_total_bytes"]), ""),
            ("   largest worker peak RSS", _mb(h["peak_rss_max_worker_bytes"]), ""),
        ]
    measured = [f"{what} at {run['commit']}" for what, run in (("scale", r), ("hybrid", r.get("hybrid", {})))
                if run.get("commit")]
    out += [
        ("   index on disk per article", f"{r['index_bytes_per_article'] / 1024:,.1f} KB "
                                         f"(tantivy {q['tantivy_index_bytes'] / r['articles'] / 1024:,.1f} KB)", ""),
    ] + ([("code measured", ", ".join(measured), "")] if measured else [])
    machine = r.get("machine", {})
    if "cpu" in machine:      # recorded from 6618d67 (2026-12-02)
        out.append(("machine", f"{machine['cpu']}, {machine['cpus']} CPUs ({', '.join(machine['isa']) or 'no AVX2'})", ""))
    return out


def table(results: list[dict]) -> str:
    results = sorted(results, key=lambda r: r["articles"])
    per_run = [{name: value for name, value, _ in rows(r)} for r in results]
    order = max((rows(r) for r in results), key=len)
    head = "| figure | " + " | ".join(f"{r['articles']:,} articles" for r in results) + " | target |"
    lines = [head, "|---" * (len(results) + 2) + "|"]
    for name, _, target in order:
        label = "&nbsp;&nbsp;" + name.strip() if name.startswith("   ") else name
        lines.append(f"| {label} | " + " | ".join(run.get(name, "–") for run in per_run) + f" | {target} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    paths = [Path(p) for p in (argv or sys.argv[1:])] or sorted(OUT_DIR.glob("scale-*.json"))
    print(table([json.loads(p.read_text(encoding="utf-8")) for p in paths]))


if __name__ == "__main__":
    main()
