"""`portfolio predict` on what it cannot use: one line naming the project or file, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli, make_portfolio
from .tiny import fake_export, make_tiny


@pytest.fixture
def root(tmp_path) -> Path:
    root = make_portfolio(tmp_path / "folio")
    make_tiny(root, "tiny")
    (root / "rows.csv").write_text("x,y\n1,a\n")
    return root


def test_an_unknown_project_is_named_with_the_known_ones(root):
    result = cli(root, "predict", "nope", str(root / "rows.csv"))
    assert (result.exit_code, result.output) == (
        1, "Error: no project 'nope' in portfolio/projects/ (projects: tiny)\n")


def test_a_project_without_an_exported_model_says_to_run_it(root):
    fake_export(root / "portfolio/projects/tiny")  # an export without model/
    result = cli(root, "predict", "tiny", str(root / "rows.csv"))
    assert (result.exit_code, result.output) == (
        1, "Error: tiny: no exported model (portfolio/projects/tiny/export/model/model.json is "
           "missing): run `portfolio run` first\n")


def test_a_corrupt_model_json_is_named(root):
    model = root / "portfolio/projects/tiny/export/model"
    model.mkdir(parents=True)
    (model / "model.json").write_text("{not json")
    result = cli(root, "predict", "tiny", str(root / "rows.csv"))
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: portfolio/projects/tiny/export/model/model.json: not readable JSON (")
    assert result.output.count("\n") == 1


def test_a_missing_input_file_is_named(root):
    model = root / "portfolio/projects/tiny/export/model"
    model.mkdir(parents=True)
    (model / "model.json").write_text('{"target": "y", "inputs": {"x": "int64"}}')
    result = cli(root, "predict", "tiny", str(root / "absent.csv"))
    assert (result.exit_code, result.output) == (1, f"Error: {root / 'absent.csv'}: no such file\n")


def test_a_csv_given_to_an_image_model_is_not_taken_for_a_list_of_images(tmp_path):
    """A CSV's header line read as a file name is too long for one: the input is named."""
    from site_builder.errors import PortfolioError
    from site_builder.predict import _image_files

    rows = tmp_path / "rows.csv"
    header = ",".join(f"mean measurement {i}" for i in range(30))
    rows.write_text(f"{header}\n1,2\n")
    with pytest.raises(PortfolioError) as caught:
        _image_files(rows)
    assert str(caught.value) == (
        f"{rows}: not an image, a folder of images or a list of them (line 1 "
        f"({header[:60]!r}) names no image file)")
