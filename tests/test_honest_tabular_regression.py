"""Tabular regression, honest by construction: no row outside a fold's training rows is ever
fitted on, the baseline is scored on the test split, identifier-like columns are left out,
the tuned network replaces the untuned one only where it cross-validates better, and each
step states its conclusions. The five notebooks run fast, step by step, by a real kernel."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import Pipeline

from site_builder.notebook import BASELINE_MIME, FINDING_MIME, METRIC_MIME

from .conftest import cli, make_portfolio

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]

RECORDER = '''\
import json

from sklearn.base import BaseEstimator, TransformerMixin


class FitRecorder(TransformerMixin, BaseEstimator):
    """Passes the rows through; appends the ids of the rows it is fitted on to `log`."""

    def __init__(self, log="fits.jsonl"):
        self.log = log

    def fit(self, X, y=None):
        with open(self.log, "a") as file:
            file.write(json.dumps(sorted(int(i) for i in X["id"])) + "\\n")
        return self

    def transform(self, X):
        return X
'''


def houses_csv(path: Path, rows: int = 160) -> Path:
    """Prices from rooms, area and town, with an id, a unique listing name, a street of many
    values (identifier-like columns) and missing towns."""
    rng = np.random.default_rng(7)
    rooms = rng.integers(1, 7, rows)
    area = rng.normal(90, 25, rows).round(1)
    town = rng.choice(["north", "south", "east"], rows).astype(object)
    price = 30 * rooms + 1.5 * area + np.where(town == "north", 40, 0) + rng.normal(0, 15, rows)
    town[::13] = None
    frame = pd.DataFrame({
        "id": rng.permutation(rows) + 1000,
        "listing": [f"listing {i:04d}" for i in rng.permutation(rows)],
        "street": [f"street {i}" for i in rng.integers(0, 70, rows)],
        "rooms": rooms, "area": area, "town": town, "price": price.round(2),
    })
    frame.to_csv(path, index=False)
    return path


def execute(project: Path, step: str, **parameters) -> dict:
    """Run one notebook of the project with its fast parameters; return the executed one."""
    import papermill as pm

    source = project / "notebooks" / f"{step}.ipynb"
    fast = json.loads(source.read_text())["metadata"]["portfolio"]["fast_parameters"]
    output = project / "executed" / f"{step}.ipynb"
    output.parent.mkdir(exist_ok=True)
    pm.execute_notebook(str(source), str(output), parameters={**fast, **parameters},
                        cwd=str(project / "notebooks"), kernel_name="python3",
                        progress_bar=False, log_output=False)
    return json.loads(output.read_text())


def records(notebook: dict, mime: str) -> list[dict]:
    return [output["data"][mime] for cell in notebook["cells"] if cell["cell_type"] == "code"
            for output in cell.get("outputs", []) if mime in output.get("data", {})]


def findings(notebook: dict) -> list[str]:
    return [record["text"] for record in records(notebook, FINDING_MIME)]


def shown_text(notebook: dict) -> str:
    """What a reader sees besides the code: markdown cells and every text output."""
    parts = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts.append("".join(data.get("text/markdown", data.get("text/plain", ""))))
            parts.append("".join(output.get("text", "")))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def houses(tmp_path_factory) -> dict:
    """A project on the houses CSV, run step by step with a fit recorder in front of the
    preprocessing from step 3 on."""
    from site_builder.runner import RunOptions, _kernel_environment

    _kernel_environment(RunOptions())
    root = make_portfolio(tmp_path_factory.mktemp("regression") / "folio")
    data = houses_csv(root / "houses.csv")
    result = cli(root, "new", "House prices", "--problem", "tabular-regression", "--data",
                 str(data), "--target", "price", "--no-input")
    assert result.exit_code == 0, result.output
    project = root / "portfolio/projects/house-prices"
    run = {"project": project, "data": data}
    for step in ("01_define_problem", "02_prepare_data"):
        run[step] = execute(project, step)

    # Step 2's preprocessing, with a recorder of the rows each fit sees in front of it.
    (project / "notebooks/fit_recorder.py").write_text(RECORDER)
    spec = importlib.util.spec_from_file_location("fit_recorder", project / "notebooks/fit_recorder.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fit_recorder"] = module
    spec.loader.exec_module(module)
    log = project / "fits.jsonl"
    saved = project / "data/prepared/preprocessor.joblib"
    joblib.dump(Pipeline([("record", module.FitRecorder(str(log))), ("prepare", joblib.load(saved))]),
                saved)
    for step in ("03_evaluate_algorithms", "04_improve_results", "05_present_results"):
        run[step] = execute(project, step)
    run["fits"] = [set(json.loads(line)) for line in log.read_text().splitlines()]
    return run


def test_no_test_row_and_no_validation_fold_row_is_ever_fitted_on(houses):
    prepared = houses["project"] / "data/prepared"
    train, test = pd.read_csv(prepared / "train.csv"), pd.read_csv(prepared / "test.csv")
    spot = json.loads((houses["project"] / "artifacts/spot_check.json").read_text())
    folds = KFold(n_splits=spot["folds"], shuffle=True, random_state=spot["seed"])
    fold_rows = [frozenset(train["id"].iloc[rows]) for rows, _ in folds.split(train)]
    every_train_row = frozenset(train["id"])
    fits = houses["fits"]
    # Step 3: seven models on each fold; step 4: two trials on each fold; step 5: the final.
    assert len(fits) >= 7 * len(fold_rows) + 1
    assert all(not fit & set(test["id"]) for fit in fits)
    assert all(fit in fold_rows or fit == every_train_row for fit in fits)
    assert set(fold_rows) <= set(map(frozenset, fits))
    assert fits[-1] == every_train_row  # the final model, on all the training rows


def test_the_split_is_made_in_step_1_and_the_baseline_scored_on_its_test_rows(houses):
    prepared = houses["project"] / "data/prepared"
    train, test = pd.read_csv(prepared / "train.csv"), pd.read_csv(prepared / "test.csv")
    raw = pd.read_csv(houses["data"])
    expected_train, expected_test = train_test_split(raw, test_size=0.2, random_state=42)
    assert list(train["id"]) == list(expected_train["id"])
    assert list(test["id"]) == list(expected_test["id"])
    [baseline] = records(houses["01_define_problem"], BASELINE_MIME)
    rmse = np.sqrt(np.mean((test["price"] - train["price"].mean()) ** 2))
    assert baseline == {"name": "rmse", "value": pytest.approx(rmse, rel=1e-9),
                        "strategy": "mean of the training target", "split": "test"}


def test_identifier_like_columns_are_reported_and_left_out(houses):
    columns = json.loads((houses["project"] / "data/prepared/columns.json").read_text())
    assert set(columns["drop"]) == {"id", "listing", "street"}
    assert "an identifier" in columns["drop"]["id"] and "an identifier" in columns["drop"]["listing"]
    assert "distinct values" in columns["drop"]["street"]
    [finding] = findings(houses["01_define_problem"])
    assert finding.startswith("Step 2 leaves out 3 column(s)") and "listing" in finding
    spec = json.loads((houses["project"] / "artifacts/model/model.json").read_text())
    assert spec["inputs"] == {"rooms": "int64", "area": "float64", "town": "object"}
    assert spec["left_out"] == ["id", "listing", "street"]


def test_the_narrative_is_about_these_data(houses):
    text = "\n".join(shown_text(houses[step]) for step in houses if step[:2].isdigit())
    for word in ("diabetes", "patient", "progression", "blood"):
        assert word not in text.lower()
    step1 = shown_text(houses["01_define_problem"])
    assert "160 rows: **128 for training**" in step1
    assert "town 13 (8%)" in step1  # the missing values, counted


def test_each_step_states_its_conclusions_and_step_5_its_error_analysis(houses):
    assert any("lowest cross-validated RMSE" in f for f in findings(houses["03_evaluate_algorithms"]))
    step4 = findings(houses["04_improve_results"])
    assert any(f.startswith(("Tuning helped", "Tuning did not help")) for f in step4)
    assert any(f.startswith("Averaging the network with") for f in step4)
    step5 = houses["05_present_results"]
    said = findings(step5)
    assert any("baseline" in f and "interval" in f for f in said)
    assert any(f.startswith("The network uses the") for f in said)
    assert any(f.startswith("The model relies most on") for f in said)
    cells = step5["cells"]
    [start] = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
               and "".join(c["source"]).splitlines()[0] == "## Error analysis"]
    section = []
    for cell in cells[start + 1:]:
        if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith("## "):
            break
        section.append(cell)
    outputs = [o for c in section if c["cell_type"] == "code" for o in c["outputs"]]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1
    assert len([c for c in section if c["cell_type"] == "code"]) >= 4
    primary = [r for r in records(step5, METRIC_MIME) if (r["name"], r["split"]) == ("rmse", "test")][-1]
    assert set(primary["interval"]) >= {"low", "high", "level"}
    assert primary["interval"]["low"] <= primary["value"] <= primary["interval"]["high"]


def test_the_untuned_network_is_kept_unless_the_search_beats_it(houses):
    project = houses["project"]
    spot_file = project / "artifacts/spot_check.json"
    spot = json.loads(spot_file.read_text())
    untuned = spot["network"]["settings"]
    try:
        # An untuned network no search can beat: the untuned settings stay, and step 5 says so.
        unbeatable = json.loads(json.dumps(spot))
        unbeatable["scores"]["Keras MLP"] = [1.0] * spot["folds"]
        spot_file.write_text(json.dumps(unbeatable))
        step4 = execute(project, "04_improve_results")
        choice = json.loads((project / "artifacts/choice.json").read_text())
        assert choice["tuned"] is False and choice["settings"] == untuned
        assert any(f.startswith("Tuning did not help") for f in findings(step4))
        step5 = execute(project, "05_present_results")
        assert any(f.startswith("The network uses the untuned settings") for f in findings(step5))

        # One every trial beats: the best trial's settings replace the untuned ones.
        beaten = json.loads(json.dumps(spot))
        beaten["scores"]["Keras MLP"] = [1e9] * spot["folds"]
        spot_file.write_text(json.dumps(beaten))
        step4 = execute(project, "04_improve_results")
        choice = json.loads((project / "artifacts/choice.json").read_text())
        assert choice["tuned"] is True and np.mean(choice["cv"]) < 1e9
        assert any(f.startswith("Tuning helped") for f in findings(step4))
    finally:
        spot_file.write_text(json.dumps(spot))
