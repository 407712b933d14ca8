"""Every record through its one typed reader: the shipped exports validate, and a corrupt or
foreign file is one line naming the file and what is wrong, in every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from site_builder import runner
from site_builder.errors import PortfolioError
from site_builder.layout import Project
from site_builder.records import (
    BuildState,
    Manifest,
    Metrics,
    RunState,
    as_json,
    read_manifest,
    read_metrics,
    read_record,
)

from .conftest import REPO, cli, make_portfolio
from .tiny import fake_export, make_tiny

SHIPPED = sorted((REPO / "portfolio/projects").glob("*/export"))


@pytest.mark.parametrize("export", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_the_shipped_exports_validate_and_read_back_as_they_are(export):
    for name, reader in (("metrics.json", read_metrics), ("manifest.json", read_manifest)):
        record = reader(export / name, name)
        assert as_json(record) == json.loads((export / name).read_text())
    assert len(SHIPPED) == 4


def good_metrics() -> dict:
    return json.loads((SHIPPED[0] / "metrics.json").read_text())


def good_manifest() -> dict:
    return json.loads((SHIPPED[0] / "manifest.json").read_text())


def change(data: dict, path: str, value) -> dict:
    """data with the value at a dotted path replaced (None: removed)."""
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is None:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


# (what is in the file, the message after "<file>: ")
FILES = [
    (None, "missing (run 'portfolio run' again)"),
    (b"", "not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    (b'{"schema_version": 1, "proj', "not valid JSON (Unterminated string starting at: line 1 "
                                     "column 23 (char 22))"),
    (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
    (b"[1, 2]", "expected a JSON object, found list"),
    (b"null", "expected a JSON object, found NoneType"),
]
METRICS = [
    ("schema_version", 2, "field 'schema_version': Input should be 1"),
    ("schema_version", None, "field 'schema_version': Field required"),
    ("primary.value", "0.9", "field 'primary.value': Input should be a valid number"),
    ("primary.value", float("nan"), "field 'primary.value': Input should be a finite number"),
    ("primary.direction", "up", "field 'primary.direction': Input should be 'maximize' or "
                                "'minimize'"),
    ("primary", None, "field 'primary': Field required"),
    ("smoke_run", "no", "field 'smoke_run': Input should be a valid boolean"),
    ("metrics.0.split", 3, "field 'metrics.0.split': Input should be a valid string"),
    ("metrics.0.step", "06_deploy", "field 'metrics.0.step': Input should be '01_define_problem', "
                                    "'02_prepare_data', '03_evaluate_algorithms', "
                                    "'04_improve_results' or '05_present_results'"),
    ("metrics.0.spread.n", 0, "field 'metrics.0.spread.n': Input should be greater than or equal "
                              "to 1"),
    ("metrics.0.colour", "red", "field 'metrics.0.colour': Extra inputs are not permitted"),
    ("metrics", {"a": 1}, "field 'metrics': Input should be a valid list"),
    ("baseline.strategy", None, "field 'baseline.strategy': Field required"),
    ("params.0.params", [1], "field 'params.0.params': Input should be a valid dictionary"),
]
MANIFEST = [
    ("notebooks.0.key", None, "field 'notebooks.0.key': Field required"),
    ("inputs.project.yml", None, "field 'inputs.project.yml': Field required"),
    ("seed", "42", "field 'seed': Input should be a valid integer"),
    ("versions.keras", 3, "field 'versions.keras': Input should be a valid string"),
    ("seconds", -1.0, "field 'seconds': Input should be greater than or equal to 0"),
]


@pytest.mark.parametrize(("content", "problem"), FILES)
@pytest.mark.parametrize("model", [Metrics, Manifest, RunState, BuildState])
def test_a_file_that_is_not_a_record_is_one_line(tmp_path, model, content, problem):
    path = tmp_path / "record.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PortfolioError) as caught:
        read_record(model, path, "shown/record.json")
    assert caught.value.message == f"shown/record.json: {problem}"


@pytest.mark.parametrize(("field", "value", "problem"), METRICS)
def test_metrics_of_the_wrong_shape_name_the_field(tmp_path, field, value, problem):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(change(good_metrics(), field, value)))
    with pytest.raises(PortfolioError) as caught:
        read_metrics(path, "export/metrics.json")
    assert caught.value.message == f"export/metrics.json: {problem}"


@pytest.mark.parametrize(("field", "value", "problem"), MANIFEST)
def test_a_manifest_of_the_wrong_shape_names_the_field(tmp_path, field, value, problem):
    data = good_manifest()
    if field == "inputs.project.yml":
        del data["inputs"]["project.yml"]
    else:
        change(data, field, value)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PortfolioError) as caught:
        read_manifest(path, "export/manifest.json")
    assert caught.value.message == f"export/manifest.json: {problem}"


@pytest.fixture
def folio(tmp_path) -> Path:
    root = make_portfolio(tmp_path / "folio")
    for slug in ("alpha", "beta"):
        fake_export(make_tiny(root, slug))
    return root


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("metrics.json", '{"schema_version": 1,', "not valid JSON (Expecting property name enclosed "
                                              "in double quotes: line 1 column 22 (char 21))"),
    ("metrics.json", '{"schema_version": 1}', "field 'project': Field required"),
    ("manifest.json", "", "not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    ("manifest.json", '{"schema_version": 7}', "field 'schema_version': Input should be 1"),
])
def test_status_names_a_corrupt_record_in_one_line_and_shows_the_others(
        folio, monkeypatch, name, content, problem):
    monkeypatch.setenv("COLUMNS", "60")  # narrower than the message: it still is one line
    (folio / "portfolio/projects/alpha/export" / name).write_text(content)
    result = cli(folio, "status")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-2:] == [f"Error: portfolio/projects/alpha/export/{name}: {problem}",
                          "Error: 1 project(s) could not be read"]
    assert any(line.startswith("│ beta ") for line in lines)
    assert not any(line.startswith("│ alpha ") for line in lines)


def test_read_manifest_is_a_dict_and_a_corrupt_one_is_one_line(folio):
    project = Project(folio / "portfolio/projects/alpha")
    assert runner.read_manifest(project)["project"] == "alpha"
    assert runner.read_manifest(Project(folio / "portfolio/projects/none")) == {}
    (project.export_dir / "manifest.json").write_text('{"schema_version": 1, "project": 5}')
    with pytest.raises(PortfolioError) as caught:
        runner.read_manifest(project)
    assert caught.value.message == ("portfolio/projects/alpha/export/manifest.json: field "
                                    "'project': Input should be a valid string")


@pytest.mark.parametrize("content", [None, '{"cells": ', "{}"])
def test_status_and_run_name_a_missing_or_truncated_notebook(folio, content):
    notebook = folio / "portfolio/projects/alpha/notebooks/02_prepare_data.ipynb"
    good = notebook.read_bytes()
    if content is None:
        notebook.unlink()
    else:
        notebook.write_text(content)
    problem = {None: "missing",
               '{"cells": ': "not a valid notebook (Expecting value: line 1 column 11 (char 10))",
               "{}": "not a valid notebook (no list of cells)"}[content]
    line = f"Error: alpha: notebooks/02_prepare_data.ipynb: {problem}"
    status = cli(folio, "status")
    assert status.exit_code == 1
    assert status.output.splitlines()[-2:] == [line, "Error: 1 project(s) could not be read"]
    run = cli(folio, "run", "alpha")
    assert run.exit_code == 1
    assert run.output == f"{line}\nError: 1 of 1 project(s) failed\n"
    state = json.loads((folio / "portfolio/projects/alpha/.portfolio/state.json").read_text())
    assert state == {"steps": {}, "failed": {"message": line.removeprefix("Error: "),
                                             "step": None, "cell": None, "log": None}}
    # Once the notebook is back, status shows the failure recorded, in one line.
    notebook.write_bytes(good)
    status = cli(folio, "status")
    assert status.exit_code == 0
    assert "│ failed │" in status.output
    assert status.output.splitlines()[-1] == f"Last run failed: {line.removeprefix('Error: ')}"
