"""Measured figures of the reliability tests: printed, and appended to artifacts/reliability.jsonl
(the README's reliability section quotes them)."""
import json
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def record(name: str, figures: dict) -> None:
    print(f"\n{name}: {json.dumps(figures, ensure_ascii=False)}")
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "reliability.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"test": name, **figures}, ensure_ascii=False) + "\n")
