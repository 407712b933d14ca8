"""The cookiecutter template baked through its Python API for every type and data source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from site_builder import PROBLEM_TYPES, STEPS
from site_builder.config import load_project
from site_builder.scaffold import template_dir

NOTEBOOKS = {f"notebooks/{s}.ipynb" for s in STEPS} | {"notebooks/models.py"}
COMMON = {"project.yml", "README.md", ".gitignore"} | NOTEBOOKS

SOURCES = {
    "tabular-classification": {"data_source": "file", "data_path": "data/raw/heart.csv",
                               "target": "disease", "dataset": "heart"},
    "tabular-regression": {"data_source": "file", "data_path": "data/raw/houses.csv",
                           "target": "price", "dataset": "houses"},
    "image-classification": {"data_source": "folder", "data_path": "data/raw/shapes",
                             "dataset": "shapes"},
    "time-series-forecasting": {"data_source": "file", "data_path": "data/raw/sales.csv",
                                "date_column": "month", "value_column": "sales",
                                "dataset": "sales"},
}


def bake(tmp_path: Path, problem: str, own: bool) -> Path:
    context = {"title": f"Test {problem}", "problem_type": problem}
    if own:
        context.update(SOURCES[problem])
    return Path(cookiecutter(str(template_dir()), no_input=True, extra_context=context,
                             output_dir=str(tmp_path)))


@pytest.mark.parametrize("own", [False, True], ids=["builtin", "own-data"])
@pytest.mark.parametrize("problem", PROBLEM_TYPES)
def test_bake_makes_exact_files_with_nothing_unrendered(tmp_path, problem, own):
    project = bake(tmp_path, problem, own)
    files = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert files == COMMON
    assert (project / "data").is_dir()
    for path in project.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb":
            text = path.read_text()
            assert "{{" not in text and "{%" not in text, path
    config = load_project(project)
    assert config.problem_type == problem
    assert config.slug == f"test-{problem}"
    assert config.dataset.source == ("builtin" if not own else SOURCES[problem]["data_source"])
    types = json.loads((template_dir() / "cookiecutter.json").read_text())["_types"]
    assert config.metric.name == types[problem]["metric"]
    if not own:
        assert config.dataset.name == types[problem]["builtin"]
    else:
        assert config.dataset.path == SOURCES[problem]["data_path"]


@pytest.mark.parametrize("problem", PROBLEM_TYPES)
def test_each_notebook_starts_with_a_parameters_cell_and_has_fast_values(tmp_path, problem):
    project = bake(tmp_path, problem, own=False)
    for step in STEPS:
        notebook = json.loads((project / "notebooks" / f"{step}.ipynb").read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert "parameters" in code[0]["metadata"].get("tags", []), step
        assert "seed = None" in "".join(code[0]["source"]), step
        assert isinstance(notebook["metadata"]["portfolio"]["fast_parameters"], dict)
        source = "".join("".join(c["source"]) for c in code)
        assert "import tensorflow" not in source, step
