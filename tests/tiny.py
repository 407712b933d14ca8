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
dataset: {{name: tiny, source: file, path: data/raw/tiny.csv, target: y}}
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
