"""`portfolio new`: the projects it makes and its one-line errors (nothing created)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from site_builder import registry
from site_builder.cli import main
from site_builder.config import load_project

from .conftest import cli, heart_csv, tree


def test_new_with_builtin_data(portfolio_root):
    result = cli(portfolio_root, "new", "Breast cancer diagnosis", "--no-input")
    assert result.exit_code == 0, result.output
    assert result.output == "created portfolio/projects/breast-cancer-diagnosis\n"
    config = yaml.safe_load(
        (portfolio_root / "portfolio/projects/breast-cancer-diagnosis/project.yml").read_text())
    card = registry.entry("breast_cancer")["card"]
    assert config["dataset"] == {
        "name": "breast_cancer", "source": "builtin", "description": card["description"],
        "url": card["source"], "licence": card["licence"], "citation": card["citation"]}
    assert config["dataset"]["url"].startswith("https://archive.ics.uci.edu/")
    assert config["metric"] == {"name": "accuracy", "direction": "maximize"}
    assert config["title"] == "Breast cancer diagnosis"
    assert config["summary"] == "A predictive-modelling project worked through the five steps."
    assert config["seed"] == 42


def test_new_prompts_for_title_summary_type_and_seed(portfolio_root, monkeypatch):
    monkeypatch.chdir(portfolio_root)
    answers = "Diabetes\nHow far diabetes progresses in a year.\ntabular-regression\n7\n"
    result = CliRunner().invoke(main, ["new", "Anything"], input=answers)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Project title [Anything]: Diabetes"
    assert result.output.splitlines()[-1] == "created portfolio/projects/diabetes"
    config = load_project(portfolio_root / "portfolio/projects/diabetes")
    assert (config.title, config.summary, config.problem_type, config.seed) == (
        "Diabetes", "How far diabetes progresses in a year.", "tabular-regression", 7)
    assert config.dataset.name == "diabetes"
    readme = (portfolio_root / "portfolio/projects/diabetes/README.md").read_text()
    assert readme.startswith("# Diabetes\n\nHow far diabetes progresses in a year.\n\n"
                             "A project of type `tabular-regression`")


def test_new_with_own_data_prompts_for_the_data_card(portfolio_root, tmp_path, monkeypatch):
    monkeypatch.chdir(portfolio_root)
    data = heart_csv(tmp_path / "heart.csv")
    answers = ("Heart\nWho has heart disease.\ntabular-classification\n42\n"
               "Patients of one clinic.\nhttps://example.org/heart\n\nDoe, Heart data, 2020\n")
    result = CliRunner().invoke(main, ["new", "Heart", "--data", str(data), "--target",
                                       "disease"], input=answers)
    assert result.exit_code == 0, result.output
    dataset = load_project(portfolio_root / "portfolio/projects/heart").dataset
    assert (dataset.description, dataset.url, dataset.licence, dataset.citation) == (
        "Patients of one clinic.", "https://example.org/heart", "", "Doe, Heart data, 2020")


def test_new_with_own_csv_copies_it_into_data(portfolio_root, tmp_path):
    csv = heart_csv(tmp_path / "heart.csv")
    result = cli(portfolio_root, "new", "Heart disease", "--data", str(csv),
                 "--target", "disease", "--no-input")
    assert result.exit_code == 0, result.output
    project = portfolio_root / "portfolio/projects/heart-disease"
    assert (project / "data/raw/heart.csv").read_bytes() == csv.read_bytes()
    config = yaml.safe_load((project / "project.yml").read_text())
    assert config["dataset"] == {"name": "heart", "source": "file",
                                 "path": "data/raw/heart.csv", "target": "disease"}


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    heart = heart_csv(tmp / "heart.csv")
    single = tmp / "single.csv"
    pd.DataFrame({"x": [1, 2, 3], "y": ["a", "a", "a"]}).to_csv(single, index=False)
    binary = tmp / "binary.csv"
    binary.write_bytes(b"\x00\xff\xfe garbage \x00\x81")
    return {
        "missing csv": (["Heart", "--data", str(tmp / "nope.csv"), "--target", "disease"],
                        f"Error: {tmp / 'nope.csv'}: no such file\n"),
        "unreadable csv": (["Heart", "--data", str(binary), "--target", "y"],
                           f"Error: {binary}: not text in any encoding charset-normalizer knows "
                           "(a binary file?); save it as a CSV file in UTF-8\n"),
        "no such column": (["Heart", "--data", str(heart), "--target", "outcome"],
                           f"Error: {heart}: no column 'outcome' (columns: age, chol, sex, "
                           "disease)\n"),
        "single class": (["Heart", "--data", str(single), "--target", "y"],
                         f"Error: {single}: target column 'y' has a single class; "
                         "classification needs two or more\n"),
        "empty slug": (["!!!"], "Error: title '!!!': gives no usable folder name; "
                                "pass --slug with letters or digits\n"),
        "unknown problem": (["Heart", "--problem", "clustering"],
                            "Error: --problem: unknown problem type 'clustering' (choose from "
                            "tabular-classification, tabular-regression, image-classification, "
                            "time-series-forecasting)\n"),
        "unknown dataset": (["Heart", "--dataset", "iris"],
                            "Error: --dataset: unknown dataset 'iris' for tabular-classification "
                            "(built-in: breast_cancer; or give your own with --data)\n"),
        "missing target option": (["Heart", "--data", str(heart)],
                                  f"Error: {heart}: --target is required with your own CSV "
                                  "file\n"),
    }


@pytest.mark.parametrize("case", ["missing csv", "unreadable csv", "no such column",
                                  "single class", "empty slug", "unknown problem",
                                  "unknown dataset", "missing target option"])
def test_bad_input_is_one_line_exit_1_and_creates_nothing(portfolio_root, tmp_path, case):
    args, message = _bad_inputs(tmp_path)[case]
    before = tree(portfolio_root)
    result = cli(portfolio_root, "new", *args, "--no-input")
    assert (result.exit_code, result.output) == (1, message)
    assert tree(portfolio_root) == before
    assert not any((portfolio_root / "portfolio/projects").iterdir())


def test_existing_project_is_refused_and_left_alone(portfolio_root):
    assert cli(portfolio_root, "new", "Breast cancer", "--no-input").exit_code == 0
    (portfolio_root / "portfolio/projects/breast-cancer/notes.md").write_text("mine")
    before = tree(portfolio_root)
    result = cli(portfolio_root, "new", "Breast cancer", "--no-input")
    assert result.exit_code == 1
    assert result.output == ("Error: portfolio/projects/breast-cancer: project 'breast-cancer' "
                             "exists already\n")
    assert tree(portfolio_root) == before


def test_outside_a_portfolio_is_an_error(tmp_path):
    result = cli(tmp_path, "new", "Anything", "--no-input")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {tmp_path.resolve()}: not inside a portfolio")


def _more_bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    from PIL import Image

    one = tmp / "one-class"
    (one / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(one / "cats" / "a.png")
    broken = tmp / "broken"
    for label in ("cats", "dogs"):
        (broken / label).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(broken / label / "a.png")
    (broken / "dogs" / "b.png").write_bytes(b"not a png")
    dates = tmp / "dates.csv"
    pd.DataFrame({"when": ["2020-01-01", "someday"] + ["2020-01-03"] * 30,
                  "v": range(32)}).to_csv(dates, index=False)
    text = tmp / "text.csv"
    pd.DataFrame({"when": pd.date_range("2020-01-01", periods=32).strftime("%Y-%m-%d"),
                  "v": ["1"] * 31 + ["many"]}).to_csv(text, index=False)
    houses = tmp / "houses.csv"
    pd.DataFrame({"rooms": [1, 2, 3], "price": ["cheap", "dear", "dear"]}).to_csv(houses,
                                                                                   index=False)
    ts = ["--problem", "time-series-forecasting", "--date-column", "when", "--value-column", "v"]
    return {
        "one image class": (["Pets", "--problem", "image-classification", "--data", str(one)],
                            f"Error: {one}: 1 class folder(s); image classification needs at "
                            "least two sub-folders, one per class\n"),
        "unreadable image": (["Pets", "--problem", "image-classification", "--data", str(broken)],
                             f"Error: {broken / 'dogs' / 'b.png'}: not a readable image\n"),
        "dates do not parse": (["Sales", *ts, "--data", str(dates)],
                               f"Error: {dates}: date column 'when' does not parse as dates "
                               "(value 'someday')\n"),
        "values not numeric": (["Sales", *ts, "--data", str(text)],
                               f"Error: {text}: value column 'v' is not numeric (value 'many')\n"),
        "regression target not numeric": (
            ["Houses", "--problem", "tabular-regression", "--data", str(houses), "--target",
             "price"],
            f"Error: {houses}: target column 'price' is not numeric (value 'cheap'); regression "
            "needs a numeric target\n"),
        "unknown dataset of a type": (
            ["Digits", "--problem", "image-classification", "--dataset", "sunspots"],
            "Error: --dataset: unknown dataset 'sunspots' for image-classification (built-in: "
            "digits, mnist, fashion_mnist, cifar10; or give your own with --data)\n"),
    }


@pytest.mark.parametrize("case", ["one image class", "unreadable image", "dates do not parse",
                                  "values not numeric", "regression target not numeric",
                                  "unknown dataset of a type"])
def test_bad_data_of_each_type_is_refused_before_anything_is_made(portfolio_root, tmp_path, case):
    args, message = _more_bad_inputs(tmp_path)[case]
    before = tree(portfolio_root)
    result = cli(portfolio_root, "new", *args, "--no-input")
    assert (result.exit_code, result.output) == (1, message)
    assert tree(portfolio_root) == before


def test_a_class_too_rare_to_stratify_is_one_line_naming_it(portfolio_root, tmp_path):
    frame = pd.read_csv(heart_csv(tmp_path / "heart.csv"))
    frame.loc[:2, "disease"] = "unsure"
    frame.to_csv(tmp_path / "heart.csv", index=False)
    result = cli(portfolio_root, "new", "Heart", "--no-input", "--data",
                 str(tmp_path / "heart.csv"), "--target", "disease")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'heart.csv'}: class 'unsure' of target column 'disease' has 3 rows; "
        "each class needs at least 10 to be stratified into the test split and the folds "
        "(merge it with another class or drop its rows)\n")
    assert not (portfolio_root / "portfolio/projects/heart").exists()


def test_a_class_name_longer_than_the_site_shows_is_one_line_naming_it(portfolio_root,
                                                                         tmp_path):
    frame = pd.read_csv(heart_csv(tmp_path / "heart.csv"))
    frame["disease"] = frame["disease"].astype(str).replace({frame["disease"].astype(str)[0]:
                                                             "<b>" + "x" * 300})
    frame.to_csv(tmp_path / "heart.csv", index=False)
    result = cli(portfolio_root, "new", "Heart", "--no-input", "--data",
                 str(tmp_path / "heart.csv"), "--target", "disease")
    assert (result.exit_code, result.output) == (1, (
        f"Error: {tmp_path / 'heart.csv'}: target column 'disease' has a class name of 303 "
        f"characters ('<b>{'x' * 37}'...); at most 200 are shown on the site (shorten it)\n"))
    assert not (portfolio_root / "portfolio/projects/heart").exists()
    images = tmp_path / "images"
    for name in ("cat", "d" * 201):
        (images / name).mkdir(parents=True)
    result = cli(portfolio_root, "new", "Pets", "--no-input", "--problem",
                 "image-classification", "--data", str(images))
    assert (result.exit_code, result.output) == (1, (
        f"Error: {images}: a class folder has a class name of 201 characters ('{'d' * 40}'...); "
        "at most 200 are shown on the site (shorten it)\n"))
