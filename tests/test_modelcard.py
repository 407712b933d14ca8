"""export/model/README.md is a Hugging Face model card: the Hub's own reader loads it, with the
figures of metrics.json; hostile text in project.yml stays text in it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from site_builder.config import ProjectConfig, load_project
from site_builder.modelcard import model_card
from site_builder.records import read_metrics

from .conftest import REPO

huggingface_hub = pytest.importorskip("huggingface_hub")

METRICS = {
    "schema_version": 1, "project": "heart", "smoke_run": False,
    "primary": {"name": "accuracy", "value": 0.9, "direction": "maximize", "split": "test",
                "step": "05_present_results",
                "interval": {"low": 0.85, "high": 0.95, "level": 0.95, "n": 1000,
                             "method": "bootstrap"}},
    "baseline": {"name": "accuracy", "value": 0.6, "strategy": "majority class (no)",
                 "split": "test", "step": "01_define_problem"},
    "metrics": [
        {"name": "accuracy", "value": 0.88, "split": "cv", "step": "03_evaluate_algorithms"},
        {"name": "accuracy", "value": 0.9, "split": "test", "step": "05_present_results",
         "interval": {"low": 0.85, "high": 0.95, "level": 0.95, "n": 1000,
                      "method": "bootstrap"}},
        {"name": "f1", "value": 0.8, "split": "test", "step": "05_present_results"},
    ],
}


def config(**changes) -> ProjectConfig:
    fields = {
        "title": "Heart disease", "slug": "heart", "summary": "Who has heart disease.",
        "problem_type": "tabular-classification", "model": "Keras MLP",
        "dataset": {"name": "heart", "source": "file", "path": "data/raw/heart.csv",
                    "target": "disease", "licence": "CC BY 4.0",
                    "url": "https://example.org/heart"},
        "metric": {"name": "accuracy", "direction": "maximize"}, "tags": ["tabular"],
        "model_card": {"intended_use": "Practice.", "limitations": "Small data.",
                       "licence": "MIT"},
    }
    fields.update(changes)
    return ProjectConfig(**fields)


def test_the_hub_reads_the_card_with_the_figures_of_metrics_json(tmp_path):
    (tmp_path / "README.md").write_text(model_card(config(), METRICS), encoding="utf-8")
    card = huggingface_hub.ModelCard.load(tmp_path / "README.md")
    data = card.data
    assert (data.library_name, data.pipeline_tag, data.license, data.license_name) == (
        "keras", "tabular-classification", "other", "MIT")
    assert data.datasets == ["heart"]
    assert data.tags == ["tabular", "tabular-classification"]
    result = data.eval_results[0]
    assert [r.metric_type for r in data.eval_results] == ["accuracy", "f1"]
    [first, second] = card.data.to_dict()["model-index"][0]["results"][0]["metrics"]
    assert (result.task_type, result.dataset_type, result.metric_type, result.metric_value) == (
        "tabular-classification", "heart", "accuracy", 0.9)
    assert first["args"] == {"interval_low": 0.85, "interval_high": 0.95, "interval_level": 0.95,
                             "interval_method": "bootstrap"}
    assert (second["type"], second["value"]) == ("f1", 0.8)
    assert "| Accuracy | 0.9 | 0.85 to 0.95 (bootstrap) |" in card.text
    assert "- **Source**: https&#58;//example.org/heart" in card.text or \
        "- **Source**: https://example.org/heart" in card.text
    assert "- **Citation**: not stated" in card.text
    assert "Naive baseline (majority class (no)): Accuracy 0.6." in card.text


def test_hostile_text_stays_text_in_the_card(tmp_path):
    hostile = "x\n---\nlicense: mit\n<script>alert(1)</script> [a](javascript:alert(1))"
    card_text = model_card(config(summary=hostile.replace("\n", " "),
                                  model_card={"intended_use": hostile, "limitations": "",
                                              "licence": "<b>x</b>"}), METRICS)
    front, body = card_text.split("\n---\n\n", 1)
    assert yaml.safe_load(front.removeprefix("---\n"))["license_name"] == "<b>x</b>"
    assert "<script>" not in body and "](javascript" not in body and "\n---\n" not in body
    (tmp_path / "README.md").write_text(card_text, encoding="utf-8")
    assert huggingface_hub.ModelCard.load(tmp_path / "README.md").data.license == "other"


EXPORTS = sorted(p.parent.parent for p in (REPO / "portfolio/projects").glob("*/export/model"))


@pytest.mark.parametrize("project", EXPORTS, ids=lambda p: p.name)
def test_each_shipped_export_carries_its_card(project: Path):
    metrics = read_metrics(project / "export/metrics.json", "metrics.json")
    card = huggingface_hub.ModelCard.load(project / "export/model/README.md")
    values = {r.metric_type: r.metric_value for r in card.data.eval_results}
    test = {m.name: float(f"{m.value:.6g}") for m in metrics.metrics if m.split == "test"}
    assert values == test
    assert card.data.datasets == [load_project(project).dataset.name]
