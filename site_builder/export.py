"""What a run exports: metrics.json, figures and the record of the run, read from the
executed notebooks (pure functions, except the writer at the end)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import nbformat

from .notebook import BASELINE_MIME, ENV_MIME, FINDING_MIME, METRIC_MIME, PARAMS_MIME

SCHEMA_VERSION = 1
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}


def _records(notebook: nbformat.NotebookNode, mime: str):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if mime in data:
                yield data[mime]


def collect_metrics(notebooks: dict[str, nbformat.NotebookNode], config, fast: bool) -> dict:
    """metrics.json from the records the notebooks made with site_builder.notebook."""
    metrics, params, findings, baseline = [], [], [], None
    for step, notebook in notebooks.items():
        for record in _records(notebook, FINDING_MIME):
            findings.append({**record, "step": step})
        for record in _records(notebook, METRIC_MIME):
            metrics.append({**record, "step": step})
        for record in _records(notebook, PARAMS_MIME):
            params.append({**record, "step": step})
        for record in _records(notebook, BASELINE_MIME):
            baseline = {**record, "step": step}
    primary = None
    for record in metrics:
        if record["name"] == config.metric.name and record["split"] == "test":
            primary = {
                "name": record["name"],
                "value": record["value"],
                "direction": config.metric.direction,
                "split": "test",
                "step": record["step"],
            }
            if "interval" in record:
                primary["interval"] = record["interval"]
    return {
        "schema_version": SCHEMA_VERSION,
        "project": config.slug,
        "smoke_run": fast,
        "primary": primary,
        "baseline": baseline,
        "metrics": metrics,
        "params": params,
        "findings": findings,
    }


def environment(notebooks: dict[str, nbformat.NotebookNode]) -> dict:
    """The backend and device the notebooks reported (the last report wins)."""
    env: dict = {}
    for notebook in notebooks.values():
        for record in _records(notebook, ENV_MIME):
            env.update(record)
    return env


def extract_figures(notebooks: dict[str, nbformat.NotebookNode]) -> dict[str, bytes]:
    """Every image the notebooks displayed, named <step>-<n>.<ext> in display order."""
    figures: dict[str, bytes] = {}
    for step, notebook in notebooks.items():
        count = 0
        for cell in notebook.cells:
            for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
                data = output.get("data", {})
                for mime, ext in IMAGE_TYPES.items():
                    if mime in data:
                        count += 1
                        payload = data[mime]
                        if isinstance(payload, list):
                            payload = "".join(payload)
                        raw = payload.encode() if ext == "svg" else base64.b64decode(payload)
                        figures[f"{step}-{count}.{ext}"] = raw
                        break
    return figures


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def swap_in(staging: Path, target: Path) -> None:
    """Replace target with staging in two renames, so target is always whole."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    if old.exists():
        shutil.rmtree(old)
