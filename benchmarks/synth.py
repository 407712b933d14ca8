"""Synthetic exported portfolios for the build benchmarks: nothing is trained or executed.

Each project has five executed notebooks, each with a Markdown narrative, a pandas table
(an HTML output), a PNG figure and 200 lines of streamed text, plus the records a real run
makes (metrics, baseline, parameters). export/ is written as `portfolio run` writes it:
metrics.json and figures/ extracted from the notebooks by site_builder.export, and a
manifest.json whose cache keys match the project's notebooks, so the export is fresh.

    python benchmarks/synth.py DIR --projects 100
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import shutil
import sys
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402

from site_builder import STEP_TITLES, STEPS  # noqa: E402
from site_builder.notebook import BASELINE_MIME, ENV_MIME, METRIC_MIME, PARAMS_MIME  # noqa: E402

STREAM_LINES = 200
FIGURE_VARIANTS = 12
KINDS = [
    # problem type, built-in dataset, metric, direction, baseline, model
    ("tabular-classification", "breast_cancer", "accuracy", "maximize", 0.6274, "Keras MLP"),
    ("tabular-regression", "diabetes", "rmse", "minimize", 77.0, "Keras MLP"),
    ("image-classification", "digits", "accuracy", "maximize", 0.1018, "Keras CNN"),
    ("time-series-forecasting", "sunspots", "rmse", "minimize", 25.0, "Keras LSTM"),
]
TAGS = ["keras", "tensorflow", "scikit-learn", "cross-validation", "hyperparameter-search",
        "mlp", "cnn", "lstm", "gru", "ensembles", "feature-engineering", "regularisation",
        "dropout", "early-stopping", "data-augmentation", "imbalanced-data", "time-series",
        "tabular", "computer-vision", "regression", "classification", "transfer-learning",
        "pandas", "matplotlib"]
MODELS = ["Logistic regression", "Random forest", "Gradient boosting", "k-nearest neighbours",
          "Support vector machine", "Keras network"]

MKDOCS_YML = REPO / "mkdocs.yml"
PROFILE = """\
name: Sam Example
headline: Machine-learning engineer in training
bio: A synthetic portfolio for the build benchmarks.
repository: https://github.com/sam-example/portfolio
links:
  - label: GitHub
    url: https://github.com/sam-example
"""


@cache
def figure_png(variant: int) -> bytes:
    """A matplotlib line chart like the notebooks draw (640 x 480 at 100 dpi)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rng = np.random.default_rng(variant)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    epochs = np.arange(1, 51)
    for label in ("loss", "val_loss"):
        ax.plot(epochs, np.exp(-epochs / rng.uniform(8, 20)) + rng.normal(0, 0.02, 50),
                label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(f"Learning curve (variant {variant})")
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def table(rng: random.Random, metric: str) -> tuple[str, str]:
    """A pandas DataFrame of cross-validation scores: its HTML and plain-text outputs."""
    import pandas as pd

    rows = {model: [round(rng.uniform(0.5, 0.99), 4) for _ in range(5)] for model in MODELS}
    frame = pd.DataFrame(rows, index=[f"fold {i}" for i in range(1, 6)]).T
    frame["mean"] = frame.mean(axis=1).round(4)
    frame.columns.name = metric
    return frame.to_html(), frame.to_string()


def stream(rng: random.Random) -> str:
    loss, acc = 0.7, 0.5
    lines = []
    for epoch in range(1, STREAM_LINES + 1):
        loss *= rng.uniform(0.97, 1.0)
        acc = min(0.999, acc + rng.uniform(0, 0.004))
        lines.append(f"Epoch {epoch}/{STREAM_LINES} - 0s - loss: {loss:.4f} - accuracy: {acc:.4f} "
                     f"- val_loss: {loss * 1.1:.4f} - val_accuracy: {acc * 0.98:.4f}")
    return "\n".join(lines) + "\n"


def narrative(title: str, step: str, rng: random.Random) -> str:
    words = ("the model data baseline score fold split feature network layer epoch loss "
             "validation test training result metric error scaling encoding").split()

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(8, 16))).capitalize() + "."

    paragraphs = [" ".join(sentence() for _ in range(4)) for _ in range(3)]
    return (f"# {title}: {STEP_TITLES[step]}\n\n{paragraphs[0]}\n\n## What this step does\n\n"
            f"{paragraphs[1]}\n\n- **Input**: the output of the previous step\n"
            f"- **Output**: the files the next step reads\n\n{paragraphs[2]}\n")


def _output(mime: str, payload, text: str):
    return nbformat.v4.new_output("display_data", data={mime: payload, "text/plain": text})


def notebooks(index: int, title: str, kind: tuple, score: float) -> dict[str, tuple]:
    """The source and the executed notebook of each step."""
    problem, _dataset, metric, _direction, baseline, model = kind
    rng = random.Random(index)
    result = {}
    for number, step in enumerate(STEPS):
        source = nbformat.v4.new_notebook()
        source.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                         "language": "python"}
        source.metadata["portfolio"] = {"fast_parameters": {"epochs": 2}}
        params = nbformat.v4.new_code_cell(f"seed = 42\nepochs = 200\nfolds = 5\nstep = {number}")
        params.metadata["tags"] = ["parameters"]
        source.cells = [
            nbformat.v4.new_markdown_cell(narrative(title, step, rng)),
            params,
            nbformat.v4.new_code_cell("from site_builder import notebook as pf\n"
                                      "project = pf.setup(seed)\nimport pandas as pd"),
            nbformat.v4.new_code_cell("scores = cross_validate_models(project, folds)\nscores"),
            nbformat.v4.new_code_cell("history = model.fit(x_train, y_train, epochs=epochs, "
                                      "verbose=2)"),
            nbformat.v4.new_code_cell("fig = plot_history(history)\nfig.show()"),
            nbformat.v4.new_code_cell("pf.record(...)"),
        ]
        executed = nbformat.from_dict(json.loads(json.dumps(source)))
        html, plain = table(rng, metric)
        executed.cells[3].outputs = [nbformat.v4.new_output(
            "execute_result", data={"text/html": html, "text/plain": plain}, execution_count=4)]
        executed.cells[4].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                            text=stream(rng))]
        png = figure_png((index * len(STEPS) + number) % FIGURE_VARIANTS)
        executed.cells[5].outputs = [nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(png).decode(),
                                  "text/plain": "<Figure size 640x480 with 1 Axes>"})]
        records = []
        if step == STEPS[0]:
            records.append(_output(BASELINE_MIME, {"name": metric, "value": baseline,
                                                   "strategy": "naive", "split": "test"},
                                   f"baseline {metric}: {baseline}"))
            records.append(_output(ENV_MIME, {"backend": "tensorflow", "device": "CPU"}, "CPU"))
        if step == "03_evaluate_algorithms":
            for name in MODELS[:4]:
                folds = [round(score * rng.uniform(0.9, 1.05), 4) for _ in range(5)]
                spread = {"std": 0.01, "min": min(folds), "max": max(folds), "n": 5}
                records.append(_output(METRIC_MIME, {"name": metric, "value": sum(folds) / 5,
                                                     "split": "cv", "model": name,
                                                     "spread": spread}, name))
        if step == "04_improve_results":
            records.append(_output(PARAMS_MIME, {"name": "best settings",
                                                 "params": {"units": 64, "dropout": 0.2}}, "best"))
        if step == STEPS[-1]:
            records.append(_output(METRIC_MIME, {"name": metric, "value": score, "split": "test",
                                                 "model": model}, f"{metric} {score}"))
        executed.cells[6].outputs = records
        for count, cell in enumerate(executed.cells[1:], start=1):
            cell.execution_count = count
        result[step] = (source, executed)
    return result


def project_yml(slug: str, title: str, kind: tuple, tags: list[str]) -> str:
    problem, dataset, metric, direction, _baseline, model = kind
    return (f"schema_version: 1\ntitle: {json.dumps(title)}\nslug: {slug}\n"
            f"summary: {json.dumps(f'{title}: a {model} on the {dataset} data, five steps.')}\n"
            f"problem_type: {problem}\nmodel: {model}\n"
            f"dataset: {{name: {dataset}, source: builtin}}\n"
            f"metric: {{name: {metric}, direction: {direction}}}\n"
            f"tags: {json.dumps(tags)}\nseed: 42\n")


def make_project(root: Path, index: int, score_shift: float = 0.0) -> Path:
    """Project number `index` in root/portfolio/projects/, with a fresh export/."""
    from site_builder.cache import library_versions, step_inputs
    from site_builder.config import load_project
    from site_builder.export import collect_metrics, extract_figures, write_json
    from site_builder.layout import Project

    rng = random.Random(f"project-{index}")
    kind = KINDS[index % len(KINDS)]
    slug = f"project-{index:04d}"
    title = f"{kind[1].replace('_', ' ').capitalize()} study {index}"
    tags = sorted(rng.sample(TAGS, rng.randint(3, 5)))
    score = round((0.9 if kind[3] == "maximize" else 55.0) * rng.uniform(0.95, 1.05)
                  + score_shift, 4)
    folder = root / "portfolio" / "projects" / slug
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "notebooks").mkdir(parents=True)
    (folder / "project.yml").write_text(project_yml(slug, title, kind, tags))
    export = folder / "export"
    (export / "notebooks").mkdir(parents=True)
    (export / "figures").mkdir()
    executed = {}
    for step, (source, run) in notebooks(index, title, kind, score).items():
        nbformat.write(source, folder / "notebooks" / f"{step}.ipynb")
        nbformat.write(run, export / "notebooks" / f"{step}.ipynb")
        executed[step] = run
    config = load_project(folder)
    for name, data in extract_figures(executed).items():
        (export / "figures" / name).write_bytes(data)
    write_json(export / "metrics.json", collect_metrics(executed, config, fast=False))
    inputs = step_inputs(Project(folder), False)
    write_json(export / "manifest.json", {
        "schema_version": 1, "project": slug, "smoke_run": False, "seed": 42,
        "backend": "tensorflow", "device": "CPU", "versions": library_versions(),
        "inputs": {"project.yml": inputs[0].parts["project.yml"], "data": inputs[0].parts["data"]},
        "finished": "2026-01-01T00:00:00+00:00", "seconds": 50.0,
        "notebooks": [{"step": s.step, "key": s.key, "inputs": s.parts, "seconds": 10.0,
                       "executed": True} for s in inputs],
    })
    return folder


def make_portfolio(root: Path, projects: int) -> Path:
    """A portfolio root (mkdocs.yml, profile.yml) with `projects` exported projects."""
    if root.exists():
        shutil.rmtree(root)
    (root / "portfolio" / "projects").mkdir(parents=True)
    shutil.copy(MKDOCS_YML, root / "mkdocs.yml")
    (root / "portfolio" / "profile.yml").write_text(PROFILE)
    for index in range(projects):
        make_project(root, index)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--projects", type=int, default=20)
    args = parser.parse_args()
    make_portfolio(args.root, args.projects)
    print(f"{args.projects} projects in {args.root}")


if __name__ == "__main__":
    main()
