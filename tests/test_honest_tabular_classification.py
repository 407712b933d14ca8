"""Tabular classification, honestly: no row the model is scored on ever fits anything, the
baseline is scored on the test split, precision and recall are about the right class for any
labels, and the findings and the error analysis are in the export."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import joblib
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from .conftest import REPO, cli, make_portfolio

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]

TEMPLATE = REPO / "template" / "{{cookiecutter.project_slug}}" / "_notebooks" / \
    "tabular-classification"
PROJECTS = Path("portfolio/projects")


def loans_csv(path: Path) -> Path:
    """Labels 0/1 with 0 the rarer, an id, a unique name, a text column of many values, a text
    column with missing values."""
    rng = np.random.default_rng(5)
    n = 160
    income = rng.normal(50, 15, n).round(2)
    region = rng.choice(["north", "south", "east", "west"], n).astype(object)
    region[::13] = None
    score = (income - 50) / 15 + np.where(region == "south", -0.8, 0.3) + rng.normal(0, 0.5, n)
    repaid = (score > -0.6).astype(int)
    frame = pd.DataFrame({
        "id": rng.permutation(n) + 1000,
        "name": [f"customer {i:03d}" for i in range(n)],
        "income": income,
        "age": rng.integers(20, 70, n),
        "region": region,
        "comment": [f"note {i}" for i in rng.integers(0, 90, n)],
        "repaid": repaid,
    })
    frame.to_csv(path, index=False)
    assert (frame["repaid"] == 0).mean() < 0.5
    return path


def churn_csv(path: Path) -> Path:
    """Labels "no"/"yes", "yes" the rarer; project.yml names "no" the positive class."""
    rng = np.random.default_rng(6)
    n = 150
    tenure = rng.integers(1, 60, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    charges = rng.normal(40, 10, n).round(2)
    churned = np.where(tenure + rng.normal(0, 10, n) < 18, "yes", "no")
    pd.DataFrame({"tenure": tenure, "plan": plan, "charges": charges,
                  "churned": churned}).to_csv(path, index=False)
    return path


def species_csv(path: Path) -> Path:
    """Three classes in two numeric columns."""
    rng = np.random.default_rng(7)
    centres = {"alpha": (0, 0), "beta": (2, 1), "gamma": (0, 2.5)}
    rows = [(rng.normal(x, 0.8), rng.normal(y, 0.8), label)
            for label, (x, y) in centres.items() for _ in range(40)]
    pd.DataFrame(rows, columns=["width", "length", "species"]).round(3).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def folio(tmp_path_factory) -> Path:
    """Four classification projects, fast-run together: the built-in data, and three CSVs."""
    root = make_portfolio(tmp_path_factory.mktemp("honest-classification") / "folio")
    assert cli(root, "new", "Cancer", "--no-input").exit_code == 0
    for title, maker, target in (("Loans", loans_csv, "repaid"), ("Churn", churn_csv, "churned"),
                                 ("Species", species_csv, "species")):
        data = maker(root / f"{title.lower()}.csv")
        result = cli(root, "new", title, "--data", str(data), "--target", target, "--no-input")
        assert result.exit_code == 0, result.output
    edit_config(root / PROJECTS / "churn", lambda c: c["dataset"].update(positive_class="no"))
    edit_config(root / PROJECTS / "loans", lambda c: c.update(slices=["region", "income"]))
    result = cli(root, "run", "--fast", "--workers", "2")
    assert result.exit_code == 0, result.output
    return root


def edit_config(project: Path, edit) -> None:
    config = yaml.safe_load((project / "project.yml").read_text())
    edit(config)
    (project / "project.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def metrics_of(root: Path, slug: str) -> dict:
    return json.loads((root / PROJECTS / slug / "export/metrics.json").read_text())


def network_test_scores(root: Path, slug: str) -> dict[str, float]:
    metrics = metrics_of(root, slug)
    model = yaml.safe_load((root / PROJECTS / slug / "project.yml").read_text())["model"]
    return {m["name"]: m["value"] for m in metrics["metrics"]
            if m["split"] == "test" and m.get("model") == model}


def split(root: Path, slug: str, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    prepared = root / PROJECTS / slug / "data/prepared"
    return tuple(pd.read_csv(prepared / f"{part}.csv", dtype={target: str})
                 for part in ("train", "test"))


def predictions(root: Path, slug: str, target: str) -> pd.DataFrame:
    path = root / PROJECTS / slug / "artifacts/test_predictions.csv"
    return pd.read_csv(path, dtype={target: str, "predicted": str})


def test_the_split_is_made_in_step_1_and_the_baseline_is_scored_on_its_test_rows(folio):
    from sklearn.datasets import load_breast_cancer

    train, test = split(folio, "cancer", "diagnosis")
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.assign(diagnosis=bunch.target_names[bunch.target])
    _, expected_test = train_test_split(frame, test_size=0.2, stratify=frame["diagnosis"],
                                        random_state=42)
    assert len(train) == 455 and len(test) == 114
    assert np.allclose(test.drop(columns="diagnosis").to_numpy(),
                       expected_test.drop(columns="diagnosis").to_numpy())
    majority = train["diagnosis"].value_counts().idxmax()
    baseline = metrics_of(folio, "cancer")["baseline"]
    assert baseline["split"] == "test"
    assert baseline["value"] == pytest.approx((test["diagnosis"] == majority).mean())
    assert baseline["value"] == pytest.approx(72 / 114)
    assert baseline["strategy"] == "majority class of the training rows (benign)"
    for slug, target in (("loans", "repaid"), ("churn", "churned"), ("species", "species")):
        train, test = split(folio, slug, target)
        counts = train[target].value_counts()
        majority = min(counts.index, key=lambda label: (-counts[label], label))
        assert metrics_of(folio, slug)["baseline"]["value"] == pytest.approx(
            (test[target] == majority).mean())


def test_the_positive_class_is_the_rarest_of_the_training_rows_even_when_encoded_0(folio):
    train, _ = split(folio, "loans", "repaid")
    counts = train["repaid"].value_counts()
    positive = counts.idxmin()
    assert positive == "0" and counts["0"] < counts["1"]
    shown = predictions(folio, "loans", "repaid")
    recorded = network_test_scores(folio, "loans")
    true, pred = shown["repaid"], shown["predicted"]
    assert recorded["precision"] == pytest.approx(
        precision_score(true, pred, pos_label=positive, zero_division=0))
    assert recorded["recall"] == pytest.approx(recall_score(true, pred, pos_label=positive))
    assert recorded["f1"] == pytest.approx(f1_score(true, pred, pos_label=positive))
    assert recorded["roc_auc"] == pytest.approx(roc_auc_score(true == positive, shown["p(0)"]))
    assert recorded["accuracy"] == pytest.approx((true == pred).mean())
    assert recorded["accuracy"] == metrics_of(folio, "loans")["primary"]["value"]


def test_a_positive_class_named_in_project_yml_is_used_for_text_labels(folio):
    train, _ = split(folio, "churn", "churned")
    assert train["churned"].value_counts().idxmin() == "yes"  # the rarest, but not chosen
    shown = predictions(folio, "churn", "churned")
    recorded = network_test_scores(folio, "churn")
    true, pred = shown["churned"], shown["predicted"]
    assert recorded["precision"] == pytest.approx(
        precision_score(true, pred, pos_label="no", zero_division=0))
    assert recorded["recall"] == pytest.approx(recall_score(true, pred, pos_label="no"))
    assert recorded["f1"] == pytest.approx(f1_score(true, pred, pos_label="no"))
    assert recorded["roc_auc"] == pytest.approx(roc_auc_score(true == "no", shown["p(no)"]))


def test_several_classes_report_macro_averages(folio):
    shown = predictions(folio, "species", "species")
    recorded = network_test_scores(folio, "species")
    true, pred = shown["species"], shown["predicted"]
    assert recorded["f1"] == pytest.approx(f1_score(true, pred, average="macro", zero_division=0))
    assert recorded["recall"] == pytest.approx(recall_score(true, pred, average="macro",
                                                            zero_division=0))
    proba = shown[["p(alpha)", "p(beta)", "p(gamma)"]].to_numpy()
    assert recorded["roc_auc"] == pytest.approx(roc_auc_score(true, proba, multi_class="ovr"))
    report = nbformat.read(folio / PROJECTS / "species/export/notebooks/05_present_results.ipynb",
                           4)
    text = json.dumps([c.outputs for c in report.cells if c.cell_type == "code"])
    assert "macro avg" in text and "gamma" in text


def test_identifiers_and_many_valued_text_columns_are_flagged_and_left_out(folio):
    project = folio / PROJECTS / "loans"
    dataset = json.loads((project / "data/prepared/dataset.json").read_text())
    assert set(dataset["drop"]) == {"id", "name", "comment"}
    assert dataset["drop"]["id"].startswith("every value distinct")
    spec = json.loads((project / "export/model/model.json").read_text())
    assert set(spec["inputs"]) == {"income", "age", "region"}
    assert spec["left_out"] == ["id", "name", "comment"]
    assert spec["classes"] == ["0", "1"] and spec["positive_class"] == "0"
    step1 = nbformat.read(project / "export/notebooks/01_define_problem.ipynb", 4)
    said = json.dumps([c.outputs for c in step1.cells if c.cell_type == "code"])
    assert "Step 2 drops 3 column(s)" in said and "comment (" in said


def test_the_saved_model_predicts_from_raw_rows(folio):
    keras = pytest.importorskip("keras")
    project = folio / PROJECTS / "loans"
    model_dir = project / "export/model"
    assert {"model.keras", "preprocessor.joblib", "classes.json", "model.json"} <= {
        p.name for p in model_dir.iterdir()}
    _, test = split(folio, "loans", "repaid")
    classes = json.loads((model_dir / "classes.json").read_text())
    inputs = joblib.load(model_dir / "preprocessor.joblib").transform(test.drop(columns="repaid"))
    network = keras.saving.load_model(model_dir / "model.keras")
    predicted = np.array(classes)[network.predict(inputs.astype("float32"), verbose=0)
                                  .argmax(axis=1)]
    assert (predicted == predictions(folio, "loans", "repaid")["predicted"]).all()


def test_findings_interval_and_error_analysis_are_in_the_export(folio):
    for slug in ("cancer", "loans", "churn", "species"):
        metrics = metrics_of(folio, slug)
        steps = [f["step"] for f in metrics["findings"]]
        assert steps.count("03_evaluate_algorithms") == 1, slug
        assert steps.count("04_improve_results") == 2, slug
        assert steps.count("05_present_results") == 3, slug
        interval = metrics["primary"]["interval"]
        assert interval["low"] <= metrics["primary"]["value"] <= interval["high"]
        texts = " ".join(f["text"] for f in metrics["findings"])
        assert all(f"{word}:" in texts for word in ("Spot-check", "Tuning", "Ensemble", "Errors"))
        assert "majority-class baseline" in texts
        step5 = nbformat.read(folio / PROJECTS / slug / "export/notebooks/05_present_results.ipynb",
                              4)
        headings = [c.source.splitlines()[0] for c in step5.cells if c.cell_type == "markdown"]
        assert "## Error analysis" in headings
    cancer = " ".join(f["text"] for f in metrics_of(folio, "cancer")["findings"])
    assert "The reference, 0.975" in cancer
    step5 = (folio / PROJECTS / "loans/export/notebooks/05_present_results.ipynb").read_text()
    assert "accuracy by region" in step5 and "accuracy by income" in step5


def test_the_data_card_and_the_data_describe_the_project(folio):
    step1 = nbformat.read(folio / PROJECTS / "cancer/export/notebooks/01_define_problem.ipynb", 4)
    said = json.dumps([c.outputs for c in step1.cells if c.cell_type == "code"])
    assert "569 breast masses" in said and "CC BY 4.0" in said
    assert "569 rows" in said and "30 numeric and 0 text columns" in said
    loans = nbformat.read(folio / PROJECTS / "loans/export/notebooks/01_define_problem.ipynb", 4)
    said = json.dumps([c.outputs for c in loans.cells if c.cell_type == "code"])
    assert "160 rows" in said and "breast" not in said.lower()
    assert "not stated" in said  # no licence given for the user's own data


def load_recorder(notebooks: Path):
    source = notebooks / "recorder.py"
    source.write_text(RECORDER)
    spec = importlib.util.spec_from_file_location("recorder", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules["recorder"] = module
    spec.loader.exec_module(module)
    return module


RECORDER = '''\
"""A transform in front of the preprocessing that writes down the rows it is fitted on."""
import json

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone


class Recording(TransformerMixin, BaseEstimator):
    def __init__(self, inner=None, log=None):
        self.inner = inner
        self.log = log

    def fit(self, X, y=None):
        rows = pd.util.hash_pandas_object(X, index=False).astype(str).tolist()
        with open(self.log, "a", encoding="utf-8") as file:
            file.write(json.dumps(rows) + "\\n")
        self.inner_ = clone(self.inner).fit(X, y)
        return self

    def transform(self, X):
        return self.inner_.transform(X)
'''


def row_hashes(frame: pd.DataFrame) -> frozenset[str]:
    return frozenset(pd.util.hash_pandas_object(frame, index=False).astype(str))


def test_no_fit_ever_sees_a_test_row_or_its_folds_held_out_rows(folio, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(folio, root, symlinks=True)
    project = root / PROJECTS / "loans"
    recorder = load_recorder(project / "notebooks")
    log = tmp_path / "fits.jsonl"
    prepared = project / "data/prepared"
    joblib.dump(recorder.Recording(joblib.load(prepared / "preprocessor.joblib"), str(log)),
                prepared / "preprocessor.joblib")
    notebook = nbformat.read(project / "notebooks/03_evaluate_algorithms.ipynb", 4)
    notebook.cells.append(nbformat.v4.new_code_cell("# again, with a recording transform"))
    nbformat.write(notebook, project / "notebooks/03_evaluate_algorithms.ipynb")
    result = cli(root, "run", "--fast", "loans")
    assert result.exit_code == 0, result.output
    sys.modules.pop("recorder", None)

    train, test = split(root, "loans", "repaid")
    X, y = train.drop(columns="repaid"), train["repaid"]
    test_rows = row_hashes(test.drop(columns="repaid"))
    assert not test_rows & row_hashes(X)
    folds = json.loads((project / "artifacts/spot_check.json").read_text())["folds"]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
    fold_rows = [(row_hashes(X.iloc[fit]), row_hashes(X.iloc[held])) for fit, held in cv.split(X, y)]
    everything = row_hashes(X)
    fits = [frozenset(json.loads(line)) for line in log.read_text().splitlines()]
    # Step 3: six candidates on each fold; step 4: each trial's folds; step 5: the network and
    # the best classical model on all the training rows.
    assert len(fits) >= 6 * folds + 2
    for rows in fits:
        assert not rows & test_rows
        assert rows == everything or any(rows == fit and not rows & held
                                         for fit, held in fold_rows)
    assert sum(rows == everything for rows in fits) == 2
    for fit, _ in fold_rows:
        assert sum(rows == fit for rows in fits) >= 6


def test_a_network_trained_again_on_its_kept_graph_matches_a_new_one():
    """Cross-validation reuses one compiled network per shape: each fit must start it exactly
    as a new network (weights, dropout's random state, optimizer state)."""
    pytest.importorskip("keras")
    spec = importlib.util.spec_from_file_location("tc_models", TEMPLATE / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the exact match is checked under TensorFlow")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, "up", "down")
    settings = {"max_epochs": 6, "patience": 2, "dropout": 0.3, "random_state": 3}
    first = models.MLPClassifier(**settings).fit(X, y)
    models.MLPClassifier(**{**settings, "units": 8}).fit(X, y)
    again = models.MLPClassifier(**settings).fit(X, y)
    models._compiled.clear()
    new = models.MLPClassifier(**settings).fit(X, y)
    for fitted in (again, new):
        assert all(np.array_equal(a, b)
                   for a, b in zip(first.weights_[0], fitted.weights_[0], strict=True))
        assert fitted.history_ == first.history_
    assert list(first.classes_) == ["down", "up"]
    assert set(first.predict(X)) <= {"down", "up"}
    assert first.predict_proba(X).shape == (120, 2)


def test_early_stopping_holds_out_a_tenth_and_at_least_a_row_of_each_class():
    pytest.importorskip("keras")
    spec = importlib.util.spec_from_file_location("tc_models_small", TEMPLATE / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3))
    y = np.repeat(["a", "b", "c"], 4)  # a tenth of 12 rows is 2: one class would go without
    assert models.MLPClassifier(max_epochs=2).fit(X, y).stopping_rows_ == 3
    X = rng.normal(size=(364, 3))
    y = np.where(X[:, 0] > 0, "up", "down")
    assert models.MLPClassifier(max_epochs=2).fit(X, y).stopping_rows_ == 37
