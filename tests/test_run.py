"""`portfolio run` with a real kernel: exports, metrics, the cache, and failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from site_builder import STEPS, runner

from .conftest import cli, tree

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]

BC = "portfolio/projects/breast-cancer-diagnosis"
HEART = "portfolio/projects/heart-disease"


def test_export_holds_exactly_the_run_results(executed):
    export = executed / BC / "export"
    files = {str(p.relative_to(export)) for p in export.rglob("*") if p.is_file()}
    assert files == {
        *(f"notebooks/{s}.ipynb" for s in STEPS),
        "metrics.json", "manifest.json",
        "figures/01_define_problem-1.png", "figures/01_define_problem-2.png",
        "figures/03_evaluate_algorithms-1.png",
        "figures/05_present_results-1.png", "figures/05_present_results-2.png",
        "figures/05_present_results-3.png",
        "model/model.keras", "model/preprocessor.joblib", "model/classes.json",
        "model/model.json", "model/README.md", "model/model.onnx", "model/browser.json",
    }
    assert json.loads((export / "model/classes.json").read_text()) == ["benign", "malignant"]


def test_metrics_of_the_builtin_project(executed):
    metrics = json.loads((executed / BC / "export/metrics.json").read_text())
    assert metrics["schema_version"] == 1
    assert metrics["smoke_run"] is True
    # The majority class of the training rows (benign), scored on the 114 test rows.
    test_rows = pd.read_csv(executed / BC / "data/prepared/test.csv")
    assert len(test_rows) == 114 and len(test_rows) + len(
        pd.read_csv(executed / BC / "data/prepared/train.csv")) == len(load_breast_cancer().target)
    assert metrics["baseline"]["value"] == pytest.approx((test_rows["diagnosis"] == "benign").mean())
    assert metrics["baseline"]["value"] == pytest.approx(72 / 114)
    primary = metrics["primary"]
    assert (primary["name"], primary["direction"], primary["split"]) == (
        "accuracy", "maximize", "test")
    assert 0.0 <= primary["value"] <= 1.0
    test = {m["name"]: m["value"] for m in metrics["metrics"]
            if m["split"] == "test" and m["model"] == "Keras MLP"}
    assert set(test) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    # The best classical model of step 3 is scored on the test rows too, for comparison.
    classical = [m for m in metrics["metrics"]
                 if m["split"] == "test" and m["model"] != "Keras MLP"]
    assert [m["name"] for m in classical] == ["accuracy"]
    assert classical[0]["model"] in {m["model"] for m in metrics["metrics"]
                                     if m["step"] == "03_evaluate_algorithms"}
    assert all(0.0 <= v <= 1.0 for v in test.values())
    assert test["accuracy"] == primary["value"]
    spot = [m for m in metrics["metrics"] if m["step"] == "03_evaluate_algorithms"]
    assert len(spot) == 6 and {m["model"] for m in spot} >= {"Keras MLP", "Logistic regression"}
    assert all(m["spread"]["n"] == 2 and m["spread"]["min"] <= m["value"] <= m["spread"]["max"]
               for m in spot)
    best = [p for p in metrics["params"] if p["step"] == "04_improve_results"]
    assert set(best[0]["params"]) == {"hidden_layers", "units", "dropout", "l2",
                                      "learning_rate", "batch_size", "n_networks"}


def test_metrics_of_the_csv_project(executed):
    metrics = json.loads((executed / HEART / "export/metrics.json").read_text())
    prepared = executed / HEART / "data/prepared"
    train = pd.read_csv(prepared / "train.csv", dtype={"disease": str})
    test = pd.read_csv(prepared / "test.csv", dtype={"disease": str})
    majority = train["disease"].value_counts().idxmax()
    assert metrics["baseline"]["value"] == pytest.approx((test["disease"] == majority).mean())
    assert len(train) + len(test) == len(pd.read_csv(executed / "heart.csv"))
    assert 0.0 <= metrics["primary"]["value"] <= 1.0
    assert (executed / HEART / "data/raw/heart.csv").read_bytes() == \
        (executed / "heart.csv").read_bytes()


def test_manifest_records_how_it_ran(executed):
    manifest = json.loads((executed / BC / "export/manifest.json").read_text())
    assert manifest["seed"] == 42 and manifest["smoke_run"] is True
    assert manifest["backend"] == "tensorflow" and manifest["device"] == "CPU"
    assert set(manifest["versions"]) == {"python", "tensorflow", "keras", "scikit-learn",
                                         "pandas", "numpy"}
    assert [n["step"] for n in manifest["notebooks"]] == list(STEPS)
    assert all(n["executed"] and n["seconds"] > 0 for n in manifest["notebooks"])


def test_rendered_notebooks_carry_no_library_noise(executed):
    for step in STEPS:
        notebook = nbformat.read(executed / BC / f"export/notebooks/{step}.ipynb", 4)
        streams = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream"]
        text = "".join(o.text for o in streams)
        assert all(o.name == "stdout" for o in streams), step
        for noise in ("WARNING", "absl", "retracing", "Epoch 1/", "cuda"):
            assert noise not in text, (step, noise)


@pytest.fixture
def copy_of(executed, tmp_path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(executed, root, symlinks=True)
    return root


def _count_executions(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = runner.execute_step

    def counting(project, step, *args, **kwargs):
        calls.append(step)
        return real(project, step, *args, **kwargs)

    monkeypatch.setattr(runner, "execute_step", counting)
    return calls


def test_unchanged_inputs_execute_nothing(copy_of, monkeypatch):
    calls = _count_executions(monkeypatch)
    before = tree(copy_of / BC / "export")
    result = cli(copy_of, "run", "--fast")
    assert result.exit_code == 0, result.output
    assert calls == []
    assert result.output == ("breast-cancer-diagnosis: up to date, nothing to run\n"
                             "heart-disease: up to date, nothing to run\n")
    assert tree(copy_of / BC / "export") == before


def test_a_new_summary_runs_nothing_and_refreshes_the_model_card(copy_of, monkeypatch):
    calls = _count_executions(monkeypatch)
    config = copy_of / BC / "project.yml"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("summary:")]
    config.write_text("\n".join([*lines, 'summary: "Told apart <b>after</b> the run."', ""]))
    before = tree(copy_of / BC / "export")
    result = cli(copy_of, "run", "--fast", "breast-cancer-diagnosis")
    assert (result.exit_code, calls) == (0, [])
    assert result.output == "breast-cancer-diagnosis: up to date, nothing to run\n"
    after = tree(copy_of / BC / "export")
    assert {k for k in after if after[k] != before[k]} == {"model/README.md"}
    card = (copy_of / BC / "export/model/README.md").read_text()
    assert "Told apart &lt;b&gt;after&lt;/b&gt; the run." in card


def _edit_notebook(path: Path, edit) -> None:
    notebook = nbformat.read(path, 4)
    edit(notebook)
    nbformat.write(notebook, path)


def test_failing_cell_names_notebook_cell_and_exception_and_keeps_export(copy_of, monkeypatch):
    calls = _count_executions(monkeypatch)
    notebook = copy_of / BC / "notebooks/03_evaluate_algorithms.ipynb"
    _edit_notebook(notebook, lambda nb: nb.cells.insert(
        3, nbformat.v4.new_code_cell('raise ValueError("planted failure")')))
    before = tree(copy_of / BC / "export")
    result = cli(copy_of, "run", "--fast", "breast-cancer-diagnosis")
    assert result.exit_code == 1
    log = copy_of / BC / ".portfolio/logs/03_evaluate_algorithms.log"
    assert result.output == (
        "breast-cancer-diagnosis: running from 03_evaluate_algorithms "
        "(03_evaluate_algorithms: notebook code changed)\n"
        "Error: breast-cancer-diagnosis: notebooks/03_evaluate_algorithms.ipynb: cell 4: "
        f"ValueError: planted failure (traceback in {log})\n"
        "Error: 1 of 1 project(s) failed\n")
    assert calls == ["03_evaluate_algorithms"]
    assert "ValueError: planted failure" in log.read_text()
    assert tree(copy_of / BC / "export") == before


def test_a_changed_step_4_reruns_steps_4_and_5_only(copy_of, monkeypatch):
    calls = _count_executions(monkeypatch)
    notebook = copy_of / BC / "notebooks/04_improve_results.ipynb"

    def edit(nb):
        nb.metadata["portfolio"]["fast_parameters"]["search_iterations"] = 1

    _edit_notebook(notebook, edit)
    old = json.loads((copy_of / BC / "export/manifest.json").read_text())
    result = cli(copy_of, "run", "--fast", "breast-cancer-diagnosis")
    assert result.exit_code == 0, result.output
    assert calls == ["04_improve_results", "05_present_results"]
    manifest = json.loads((copy_of / BC / "export/manifest.json").read_text())
    assert [n["executed"] for n in manifest["notebooks"]] == [False, False, False, True, True]
    assert [n["key"] for n in manifest["notebooks"][:3]] == \
        [n["key"] for n in old["notebooks"][:3]]
    metrics = json.loads((copy_of / BC / "export/metrics.json").read_text())
    assert metrics["baseline"] == json.loads(
        (copy_of / BC / "export/metrics.json").read_text())["baseline"]
    assert len([m for m in metrics["metrics"] if m["step"] == "03_evaluate_algorithms"]) == 6


def test_unknown_project_is_an_error(executed):
    result = cli(executed, "run", "no-such-project")
    assert result.exit_code == 1
    assert result.output == ("Error: no-such-project: no such project in portfolio/projects "
                             "(projects: breast-cancer-diagnosis, heart-disease)\n")


@pytest.mark.parametrize(("project", "target"), [(BC, "diagnosis"), (HEART, "disease")])
def test_predict_on_the_test_rows_reproduces_the_classification_test_score(
        executed, tmp_path, project, target):
    slug = Path(project).name
    test = executed / project / "data/prepared/test.csv"
    out = tmp_path / "predictions.csv"
    result = cli(executed, "predict", slug, str(test), "-o", str(out))
    assert result.exit_code == 0, result.output
    spec = json.loads((executed / project / "export/model/model.json").read_text())
    shown = pd.read_csv(out, dtype={target: str, "predicted": str})
    assert list(shown.columns) == [target, "predicted", *(f"p({c})" for c in spec["classes"])]
    metrics = json.loads((executed / project / "export/metrics.json").read_text())
    assert (shown[target] == shown["predicted"]).mean() == pytest.approx(
        metrics["primary"]["value"])
    # The step 5 predictions, from the notebooks, and these, from the export alone, agree.
    step5 = pd.read_csv(executed / project / "artifacts/test_predictions.csv",
                        dtype={target: str, "predicted": str})
    assert shown["predicted"].tolist() == step5["predicted"].tolist()
    for label in spec["classes"]:
        assert np.allclose(shown[f"p({label})"], step5[f"p({label})"], atol=1e-5)


def test_emptying_the_model_folder_removes_a_link_and_never_what_it_points_to(tmp_path):
    kept = tmp_path / "elsewhere"
    kept.mkdir()
    (kept / "precious.txt").write_text("keep me")
    model = tmp_path / "artifacts" / "model"
    model.parent.mkdir()
    model.symlink_to(kept, target_is_directory=True)
    runner._empty(model)
    assert not model.exists() and not model.is_symlink()
    assert (kept / "precious.txt").read_text() == "keep me"
    model.mkdir()
    (model / "inner").symlink_to(kept, target_is_directory=True)
    (model / "old.onnx").write_bytes(b"x")
    runner._empty(model)
    assert not model.exists() and (kept / "precious.txt").is_file()
    runner._empty(model)  # nothing there: nothing to do
