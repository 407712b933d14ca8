"""What makes a step stale: the plan of a run, computed without running anything."""

from __future__ import annotations

import json

import pytest

from site_builder import cache, runner
from site_builder.errors import PortfolioError
from site_builder.layout import Project
from site_builder.records import RunState
from site_builder.runner import RunOptions, plan_run

from .conftest import make_portfolio
from .tiny import fake_export, make_tiny


@pytest.fixture
def project(tmp_path) -> Project:
    root = make_portfolio(tmp_path / "folio")
    path = make_tiny(root, "alpha")
    fake_export(path)
    state = {"steps": {n["step"]: n["key"] for n in json.loads(
        (path / "export/manifest.json").read_text())["notebooks"]}}
    (path / ".portfolio").mkdir()
    (path / ".portfolio/state.json").write_text(json.dumps(state))
    return Project(path)


def plan(project: Project, **options):
    result = plan_run(project, RunOptions(**options))
    return result.start, result.reason


def test_nothing_changed_plans_nothing(project):
    assert plan(project) == (5, "nothing changed")


def test_a_fast_run_never_counts_as_the_full_one(project):
    assert plan(project, fast=True) == (0, "01_define_problem: smoke/full mode changed")


def test_force_reruns_everything(project):
    assert plan(project, force=True) == (0, "forced")


def test_a_data_file_reruns_from_step_1(project):
    (project.dir / "data/raw/tiny.csv").write_text("x,y\n1,a\n2,b\n3,a\n")
    assert plan(project) == (0, "01_define_problem: data changed")


def test_prepared_data_written_by_step_2_is_not_an_input(project):
    (project.dir / "data/prepared").mkdir()
    (project.dir / "data/prepared/rows.txt").write_text("99")
    assert plan(project) == (5, "nothing changed")


def test_project_yml_reruns_from_step_1(project):
    config = project.dir / "project.yml"
    config.write_text(config.read_text().replace("seed: 1", "seed: 2"))
    assert plan(project) == (0, "01_define_problem: project.yml changed")


def test_a_library_version_reruns_from_step_1(project, monkeypatch):
    versions = {**cache.library_versions(), "scikit-learn": "0.0.1"}
    monkeypatch.setattr(cache, "library_versions", lambda backend: versions)
    assert plan(project) == (0, "01_define_problem: library versions changed")


def test_a_step_4_parameter_reruns_steps_4_and_5(project):
    notebook = project.dir / "notebooks/04_improve_results.ipynb"
    notebook.write_text(notebook.read_text().replace("depth = 3", "depth = 4"))
    assert plan(project) == (3, "04_improve_results: notebook code changed")


def test_fast_parameters_are_inputs_of_fast_runs_only(project):
    notebook = project.dir / "notebooks/05_present_results.ipynb"
    data = json.loads(notebook.read_text())
    data["metadata"]["portfolio"]["fast_parameters"] = {"score": 0.1}
    notebook.write_text(json.dumps(data))
    assert plan(project) == (4, "05_present_results: notebook code changed")


def test_a_local_module_reruns_the_steps_that_import_it(project):
    (project.dir / "notebooks/helpers.py").write_text("X = 1\n")
    notebook = project.dir / "notebooks/03_evaluate_algorithms.ipynb"
    notebook.write_text(notebook.read_text().replace('"seed = None"', '"seed = None\\nimport helpers"'))
    fake_export_again(project)
    assert plan(project) == (5, "nothing changed")
    (project.dir / "notebooks/helpers.py").write_text("X = 2\n")
    assert plan(project) == (2, "03_evaluate_algorithms: local modules changed")


def test_missing_working_files_rerun_from_the_step_that_writes_them(project):
    notebook = project.dir / "notebooks/04_improve_results.ipynb"
    notebook.write_text(notebook.read_text().replace("depth = 3", "depth = 4"))
    (project.dir / ".portfolio/state.json").unlink()
    start, reason = plan(project)
    assert start == 0
    assert reason == ("04_improve_results: notebook code changed; 01_define_problem: working "
                      "files not current")


@pytest.mark.parametrize(("content", "problem"), [
    ("{", "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
          "(char 1))"),
    ('{"steps": {"01_define_problem": 1}}', "field 'steps.01_define_problem': Input should be "
                                            "a valid string"),
    ('{"steps": {}, "failed": "an old message"}', "field 'failed': Input should be a valid "
                                                  "dictionary or instance of Failure"),
])
def test_a_corrupt_run_state_reruns_every_step_and_says_why(project, content, problem):
    notebook = project.dir / "notebooks/04_improve_results.ipynb"
    notebook.write_text(notebook.read_text().replace("depth = 3", "depth = 4"))
    (project.dir / ".portfolio/state.json").write_text(content)
    assert plan(project) == (0, "04_improve_results: notebook code changed; 01_define_problem: "
                                "working files not current (portfolio/projects/alpha/.portfolio/"
                                f"state.json: {problem})")


@pytest.mark.parametrize(("content", "problem"), [
    (None, "missing"),
    ('{"cells": [', "not a valid notebook (Expecting value: line 1 column 12 (char 11))"),
    (b"\xff\xfe", "not a valid notebook ('utf-8' codec can't decode byte 0xff in position 0: "
                   "invalid start byte)"),
    ("[1, 2]", "not a valid notebook (no list of cells)"),
])
def test_a_missing_or_truncated_notebook_is_one_line(project, content, problem):
    notebook = project.dir / "notebooks/03_evaluate_algorithms.ipynb"
    if content is None:
        notebook.unlink()
    elif isinstance(content, bytes):
        notebook.write_bytes(content)
    else:
        notebook.write_text(content)
    with pytest.raises(PortfolioError) as caught:
        plan(project)
    assert caught.value.message == f"alpha: notebooks/03_evaluate_algorithms.ipynb: {problem}"


def fake_export_again(project: Project) -> None:
    import shutil

    shutil.rmtree(project.export_dir)
    fake_export(project.dir)
    runner._write_state(project, RunState(steps={n["step"]: n["key"] for n in json.loads(
        (project.export_dir / "manifest.json").read_text())["notebooks"]}))


def test_how_a_project_is_shown_leaves_its_export_up_to_date(project):
    """title, summary, tags, featured, cover and model_card are not read by the notebooks: a
    summary written once the results are in does not call for another run."""
    config = project.dir / "project.yml"
    text = config.read_text()
    config.write_text(text + 'summary: "Written after the run."\ntags: ["new"]\nfeatured: true\n')
    assert plan(project) == (5, "nothing changed")
    config.write_text(text + "slices: [x]\n")
    assert plan(project) == (0, "01_define_problem: project.yml changed")
