"""A project's model card in the Hugging Face format: export/model/README.md, YAML front matter
(`model-index` evaluation results, licence, datasets, tags) and then intended use, data,
metrics and limitations, written at `portfolio run` from project.yml and metrics.json.

The site's model card section is rendered from the same `card_data`, so the page, the file
and metrics.json carry the same figures. Every value is the user's or a notebook's: the front
matter is written with a YAML library, the body's text through `md_text`.
"""

from __future__ import annotations

import sys

import yaml

from . import registry
from .site.sanitize import md_text

# Hugging Face's pipeline tags for the kit's problem types (all four are tags of the Hub).
PIPELINE_TAGS = {
    "tabular-classification": "tabular-classification",
    "tabular-regression": "tabular-regression",
    "image-classification": "image-classification",
    "time-series-forecasting": "time-series-forecasting",
}
METRIC_NAMES = {"accuracy": "accuracy", "rmse": "RMSE", "mae": "MAE", "r2": "R²",
                "f1": "F1", "roc_auc": "ROC AUC", "precision": "precision", "recall": "recall"}


def metric_label(name: str) -> str:
    """A metric's name as text shows it (the site and the card)."""
    return METRIC_NAMES.get(name, name)


def label(metric: str) -> str:
    """The name at the start of a label or a table cell."""
    shown = metric_label(metric)
    return shown[:1].upper() + shown[1:]


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def test_metrics(metrics: dict) -> list[dict]:
    """The test-split records of metrics.json, the primary metric first, one per name."""
    primary = (metrics.get("primary") or {}).get("name")
    seen: dict[str, dict] = {}
    for record in metrics.get("metrics", []):
        if record.get("split") == "test":
            seen[record["name"]] = record
    return sorted(seen.values(), key=lambda r: r["name"] != primary)


def card_data(config, metrics: dict) -> dict:
    """The front matter of the card: what the Hub reads (and the site shows)."""
    dataset = registry.entry(config.dataset.name) if config.dataset.source == "builtin" else None
    dataset_title = (dataset or {}).get("title", config.dataset.name)
    results = []
    for record in test_metrics(metrics):
        metric = {"type": record["name"], "value": _round(record["value"]),
                  "name": f"{label(record['name'])} (test)"}
        interval = record.get("interval")
        if interval:
            metric["args"] = {"interval_low": _round(interval["low"]),
                              "interval_high": _round(interval["high"]),
                              "interval_level": interval["level"],
                              "interval_method": interval["method"]}
        results.append(metric)
    data: dict = {
        "library_name": "keras",
        "pipeline_tag": PIPELINE_TAGS[config.problem_type],
        "tags": list(dict.fromkeys([*config.tags, config.problem_type])),
        "datasets": [config.dataset.name],
    }
    if config.model_card.licence:
        data["license"] = "other"
        data["license_name"] = config.model_card.licence
    data["model-index"] = [{
        "name": config.slug,
        "results": [{
            "task": {"type": PIPELINE_TAGS[config.problem_type], "name": config.problem_type},
            "dataset": {"name": dataset_title, "type": config.dataset.name},
            "metrics": results,
        }],
    }]
    return data


def _line(label_text: str, value: str) -> str:
    return f"- **{label_text}**: {md_text(value) if value else 'not stated'}"


def card_body(config, metrics: dict) -> str:
    """The card's Markdown below the front matter."""
    d = config.dataset
    lines = [f"# {md_text(config.title)}", "", md_text(config.summary), "",
             "## Model", "",
             _line("Model", f"{config.model} ({config.problem_type})"),
             _line("Licence of the model", config.model_card.licence), "",
             "## Intended use", "", md_text(config.model_card.intended_use) or "not stated", "",
             "## Data", "",
             _line("Dataset", d.name),
             _line("Description", d.description),
             _line("Source", d.url),
             _line("Licence", d.licence),
             _line("Citation", d.citation), "",
             "## Evaluation", "",
             "Scores on the held-out test split, which no choice of the model saw.", "",
             "| metric | test score | 95 % interval |", "|---|---:|---|"]
    for record in test_metrics(metrics):
        interval = record.get("interval")
        shown = (f"{interval['low']:.4g} to {interval['high']:.4g} ({md_text(interval['method'])})"
                 if interval else "—")
        lines.append(f"| {md_text(label(record['name']))} | {record['value']:.4g} | {shown} |")
    baseline = metrics.get("baseline")
    if baseline:
        lines += ["", f"Naive baseline ({md_text(baseline['strategy'])}): "
                      f"{md_text(label(baseline['name']))} {baseline['value']:.4g}."]
    if metrics.get("smoke_run"):
        lines += ["", "These figures come from a smoke run (`portfolio run --fast`): the model "
                      "was not trained in full."]
    lines += ["", "## Limitations", "", md_text(config.model_card.limitations) or "not stated",
              "", "## How to use", "",
              f"`portfolio predict {config.slug} INPUT` predicts from raw input with the files "
              "of this folder.", "",
              "`model.onnx`, where this folder holds it, is the same model as one ONNX graph from "
              "raw input to prediction (`browser.json` describes its input and gives test "
              "examples with the model's outputs): any ONNX runtime runs it, and the project's "
              "page runs it in the visitor's browser.", ""]
    return "\n".join(lines)


def model_card(config, metrics: dict) -> str:
    """The whole README.md."""
    front = yaml.safe_dump(card_data(config, metrics), sort_keys=False, allow_unicode=True,
                           width=sys.maxsize)
    return f"---\n{front}---\n\n{card_body(config, metrics)}"
