"""Tiny projects whose five notebooks need no TensorFlow: for testing the runner quickly."""

from __future__ import annotations

from pathlib import Path

import nbformat

from site_builder import STEPS

SETUP = "from site_builder import notebook as pf\nproject = pf.setup(seed)"
BODIES = {
    "01_define_problem": 'pf.record_baseline("accuracy", 0.5, strategy="coin flip")',
    "02_prepare_data": '(project.prepared_dir / "rows.txt").write_text(str(rows))',
    "03_evaluate_algorithms": (
        'rows = int((project.prepared_dir / "rows.txt").read_text())\n'
        'pf.record("accuracy", 0.7, split="cv", model="Guess", folds=[0.6, 0.8])'),
    "04_improve_results": 'pf.record_params("best settings", {"depth": depth})',
    "05_present_results": (
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "from IPython.display import Image, display\nimport io\n"
        "fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, 1], [0, score])\n"
        "buf = io.BytesIO(); fig.savefig(buf, format='png'); display(Image(buf.getvalue()))\n"
        'pf.record("accuracy", score, split="test", model="Guess")\n'
        '(project.model_dir / "model.txt").write_text("weights")'),
}
PARAMETERS = {
    "01_define_problem": "seed = None",
    "02_prepare_data": "seed = None\nrows = 10",
    "03_evaluate_algorithms": "seed = None",
    "04_improve_results": "seed = None\ndepth = 3",
    "05_present_results": "seed = None\nscore = 0.75",
}

PROJECT_YML = """\
schema_version: 1
title: {title}
slug: {slug}
summary: A tiny project for tests.
problem_type: tabular-classification
model: Guess
dataset: {{name: tiny, source: file, path: data/raw/tiny.csv, target: y,
          url: "https://example.org/tiny.csv", licence: CC0-1.0}}
metric: {{name: accuracy, direction: maximize}}
tags: [tiny]
seed: 1
"""


def make_tiny(root: Path, slug: str, extra: dict[str, str] | None = None) -> Path:
    """A project in root/portfolio/projects/slug; `extra` adds code to a step's last cell."""
    project = root / "portfolio" / "projects" / slug
    (project / "notebooks").mkdir(parents=True)
    (project / "data" / "raw").mkdir(parents=True)
    (project / "data" / "raw" / "tiny.csv").write_text("x,y\n1,a\n2,b\n")
    (project / "project.yml").write_text(PROJECT_YML.format(title=slug.title(), slug=slug))
    for step in STEPS:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.metadata["portfolio"] = {"fast_parameters": {"score": 0.6} if step == STEPS[-1] else {}}
        params = nbformat.v4.new_code_cell(PARAMETERS[step])
        params.metadata["tags"] = ["parameters"]
        body = BODIES[step] + ("\n" + extra[step] if extra and step in extra else "")
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {step}"), params,
                    nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(body)]
        nbformat.write(nb, project / "notebooks" / f"{step}.ipynb")
    return project


def fake_export(project: Path, smoke: bool = False, score: float = 0.75) -> None:
    """An export/ as `portfolio run` writes it, without running anything (keys are current)."""
    import json
    import shutil

    from site_builder.cache import library_versions, step_inputs
    from site_builder.layout import Project

    export = project / "export"
    (export / "notebooks").mkdir(parents=True)
    (export / "figures").mkdir()
    for step in STEPS:
        shutil.copy(project / "notebooks" / f"{step}.ipynb", export / "notebooks")
    metrics = {
        "schema_version": 1, "project": project.name, "smoke_run": smoke,
        "primary": {"name": "accuracy", "value": score, "direction": "maximize",
                    "split": "test", "step": STEPS[-1]},
        "baseline": {"name": "accuracy", "value": 0.5, "strategy": "coin flip", "split": "test",
                     "step": STEPS[0]},
        "metrics": [{"name": "accuracy", "value": score, "split": "test", "model": "Guess",
                     "step": STEPS[-1]}],
        "params": [],
    }
    inputs = step_inputs(Project(project), smoke)
    manifest = {
        "schema_version": 1, "project": project.name, "smoke_run": smoke, "seed": 1,
        "backend": "tensorflow", "device": "CPU", "versions": library_versions(),
        "inputs": {"project.yml": inputs[0].parts["project.yml"], "data": inputs[0].parts["data"]},
        "finished": "2026-01-01T00:00:00+00:00", "seconds": 5.0,
        "notebooks": [{"step": s.step, "key": s.key, "inputs": s.parts, "seconds": 1.0,
                       "executed": True} for s in inputs],
    }
    (export / "metrics.json").write_text(json.dumps(metrics))
    (export / "manifest.json").write_text(json.dumps(manifest))
