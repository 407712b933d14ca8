"""The benchmark registry: naive baseline and reference score of each built-in dataset."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

REGISTRY_FILE = Path(__file__).with_name("benchmarks.yml")


@cache
def registry() -> dict:
    return yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8"))["datasets"]


def entry(dataset: str) -> dict | None:
    return registry().get(dataset)


def reference(dataset: str, source: str, metric: str) -> dict | None:
    """The reference score for a metric of a built-in dataset (own data has none)."""
    if source != "builtin":
        return None
    found = entry(dataset)
    for ref in (found or {}).get("references", []):
        if ref["metric"] == metric:
            return ref
    return None
