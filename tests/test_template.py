"""The cookiecutter template baked through its Python API for every type and data source."""

from __future__ import annotations

import json
import re

import pytest

from site_builder import PROBLEM_TYPES, STEPS
from site_builder.config import ProjectConfig, load_project
from site_builder.scaffold import bake, problem_types, template_dir

NOTEBOOKS = {f"notebooks/{s}.ipynb" for s in STEPS} | {"notebooks/models.py"}
COMMON = {"project.yml", "README.md", ".gitignore"} | NOTEBOOKS

SOURCES = {
    "tabular-classification": {"source": "file", "path": "data/raw/heart.csv",
                               "target": "disease", "name": "heart"},
    "tabular-regression": {"source": "file", "path": "data/raw/houses.csv",
                           "target": "price", "name": "houses"},
    "image-classification": {"source": "folder", "path": "data/raw/shapes", "name": "shapes",
                             "image_size": 32},
    "time-series-forecasting": {"source": "file", "path": "data/raw/sales.csv",
                                "date_column": "month", "value_column": "sales",
                                "name": "sales"},
}


def config(problem: str, own: bool) -> ProjectConfig:
    kind = problem_types()[problem]
    return ProjectConfig(
        title=f"Test {problem}", slug=f"test-{problem}", summary="Made by a test.",
        problem_type=problem, model=kind["model"],
        dataset=SOURCES[problem] if own else {"name": kind["builtin"], "source": "builtin"},
        metric={"name": kind["metric"], "direction": kind["direction"]}, tags=kind["tags"])


@pytest.mark.parametrize("own", [False, True], ids=["builtin", "own-data"])
@pytest.mark.parametrize("problem", PROBLEM_TYPES)
def test_bake_makes_exact_files_with_nothing_unrendered(tmp_path, problem, own):
    made = config(problem, own)
    project = bake(made, tmp_path)
    assert project == tmp_path / f"test-{problem}"
    files = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert files == COMMON
    assert (project / "data").is_dir()
    for path in project.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb":
            text = path.read_text()
            assert "{{" not in text and "{%" not in text, path
    assert load_project(project) == made
    readme = (project / "README.md").read_text()
    assert readme.startswith(f"# Test {problem}\n\nMade by a test.\n\nA project of type `{problem}`,")
    assert f"`portfolio run test-{problem}`" in readme


def test_only_values_the_kit_validated_enter_the_template():
    """Cookiecutter renders each value of its context as Jinja: the template asks for the slug
    and the problem type alone, and its files use no other answer."""
    answers = json.loads((template_dir() / "cookiecutter.json").read_text())
    assert {k for k in answers if not k.startswith("_")} == {"project_slug", "problem_type"}
    used = set()
    expression = r"\{[{%][^}]*?cookiecutter\.(\w+)"
    for path in template_dir().rglob("*"):
        if path.is_file() and "_notebooks" not in path.parts:
            used |= set(re.findall(expression, path.read_text()))
            used |= set(re.findall(expression, str(path.relative_to(template_dir()))))
    assert used == {"project_slug", "problem_type"}


@pytest.mark.parametrize("problem", PROBLEM_TYPES)
def test_each_notebook_starts_with_a_parameters_cell_and_has_fast_values(tmp_path, problem):
    project = bake(config(problem, own=False), tmp_path)
    for step in STEPS:
        notebook = json.loads((project / "notebooks" / f"{step}.ipynb").read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert "parameters" in code[0]["metadata"].get("tags", []), step
        assert "seed = None" in "".join(code[0]["source"]), step
        assert isinstance(notebook["metadata"]["portfolio"]["fast_parameters"], dict)
        source = "".join("".join(c["source"]) for c in code)
        assert "import tensorflow" not in source, step
