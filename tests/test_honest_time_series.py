"""Time-series forecasting told honestly: nothing fitted sees a later value, the baselines
and the AR reference are scored on the test part of the user's own series, the findings are
drawn from this project's results, and the narrative never speaks of the built-in series."""

from __future__ import annotations

import importlib.util
import json
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import REPO, cli, make_portfolio

TEMPLATE = REPO / "template" / "{{cookiecutter.project_slug}}" / "_notebooks" / \
    "time-series-forecasting"


def load_models():
    spec = importlib.util.spec_from_file_location("ts_models", TEMPLATE / "models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ts_models"] = module
    spec.loader.exec_module(module)
    return module


models = load_models()


def airline(months: int = 132, seed: int = 5) -> np.ndarray:
    """A monthly series with a growing trend and a yearly season whose swing grows with the
    level (as airline passengers)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    level = 120 * np.exp(0.011 * t)
    season = 1 + 0.18 * np.sin(2 * np.pi * t / 12) + 0.07 * np.cos(4 * np.pi * t / 12)
    return (level * season * np.exp(rng.normal(0, 0.025, months))).round(1)


def airline_csv(path: Path) -> Path:
    values = airline()
    months = pd.date_range("2001-01-01", periods=len(values), freq="MS")
    pd.DataFrame({"month": months.strftime("%Y-%m"), "passengers": values}).to_csv(path,
                                                                                   index=False)
    return path


# ---------------------------------------------------------------------------- models.py


@pytest.mark.parametrize("frequency, season", [
    ("MS", 12), ("ME", 12), ("QS-OCT", 4), ("QE-DEC", 4), ("W-SUN", 52), ("D", 7),
    ("YS-JAN", None), ("YE-DEC", None), (None, None), ("2MS", 12),
])
def test_the_season_of_a_frequency(frequency, season):
    assert models.season_length(frequency) == season


@pytest.mark.parametrize("power", ["none", "sqrt", "log"])
@pytest.mark.parametrize("lags", [(), (1,), (12,), (1, 12)])
def test_a_perfect_transformed_forecast_is_the_actual_value(power, lags):
    values = airline()
    transform = models.SeriesTransform(power, lags).fit(values[:100])
    positions = np.arange(100, len(values))
    scaled = transform.transform(values)[positions]
    assert np.allclose(transform.inverse(scaled, values, positions), values[positions])
    # The inverse uses only the values before each position.
    for p in positions[:3]:
        changed = values.copy()
        changed[p:] += 1000.0
        assert transform.inverse(scaled[p - 100: p - 99], changed, [p])[0] == pytest.approx(
            transform.inverse(scaled[p - 100: p - 99], values, [p])[0])


def test_the_transform_learns_from_the_values_it_is_fitted_on_only():
    values = airline()
    transform = models.SeriesTransform("log", (1, 12)).fit(values[:90])
    differenced = np.log(values[13:90]) - np.log(values[12:89]) - np.log(values[1:78]) \
        + np.log(values[:77])
    assert transform.n_fitted_ == 90
    assert transform.mean_ == pytest.approx(differenced.mean())
    assert transform.scale_ == pytest.approx(differenced.std())
    back = models.SeriesTransform.from_dict(json.loads(json.dumps(transform.as_dict())))
    assert np.allclose(back.transform(values), transform.transform(values), equal_nan=True)


def test_differencing_follows_the_seasonal_strength_and_kpss_rules():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=200)
    assert models.choose_differencing(noise, None)[0] == ()
    assert models.choose_differencing(np.cumsum(noise), None)[0] == (1,)
    lags, tests = models.choose_differencing(airline(), 12)
    assert lags in ((12,), (1, 12)) and tests["seasonal strength"] > 0.64
    assert models.choose_differencing(np.log(airline()), None)[0] == (1,)


def test_walk_forward_folds_are_consecutive_blocks_of_the_later_half():
    folds = models.walk_forward_folds(247, 5)
    assert folds[0][0] >= 247 // 2 and folds[-1][1] == 247
    assert all(end == start for (_, end), (start, _) in pairwise(folds))
    assert len({end - start for start, end in folds}) == 1


class Spy:
    """A regressor that records the rows it is fitted on."""

    fitted: list[int] = []

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y):
        Spy.fitted.append(len(X))
        from sklearn.linear_model import LinearRegression

        self.model_ = LinearRegression().fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_no_fold_is_fitted_on_a_value_it_forecasts_or_a_later_one():
    values = airline()
    folds = models.walk_forward_folds(105, 5)
    forecaster = models.Forecaster(Spy(), window=6, power="log", lags=(1, 12))
    Spy.fitted = []
    table, forecasts = models.walk_forward(forecaster, values[:105], folds)
    # The transform (and its scaling) saw the values before the block, the model the windows
    # whose targets come before it.
    assert table["fitted on values"].tolist() == [start for start, _ in folds]
    assert Spy.fitted == [start - 13 - 6 for start, _ in folds]
    # Changing a value and every later one changes no forecast made before it.
    for start, end in folds:
        for p in (start, (start + end) // 2, end - 1):
            changed = values[:105].copy()
            changed[p:] *= 3
            again = models.walk_forward(forecaster, changed, folds)[1]
            assert again[p] == pytest.approx(forecasts[p])


def test_the_naive_forecasts():
    values = np.arange(40.0)
    positions = np.arange(30, 40)
    assert models.Naive(1).fit(values[:30]).predict(values, positions).tolist() == \
        list(range(29, 39))
    assert models.Naive(12).predict(values, positions).tolist() == list(range(18, 28))


def test_networks_that_share_a_compiled_model_keep_their_own_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype("float32")
    y = X.sum(axis=1)
    first = models.RecurrentRegressor(units=4, epochs=10, patience=5, random_state=1).fit(X, y)
    before = first.predict(X[:5])
    second = models.RecurrentRegressor(units=4, epochs=20, patience=5, random_state=1).fit(X, -y)
    assert np.allclose(first.predict(X[:5]), before)
    assert not np.allclose(second.predict(X[:5]), before)
    assert first.epochs_ % first.passes_per_epoch == 0 and first.epochs_ <= 10


# ---------------------------------------------------------------- a project, fast-run

@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A new project on a monthly series with trend and season, fast-run."""
    root = make_portfolio(tmp_path_factory.mktemp("honest-ts") / "folio")
    data = airline_csv(root / "passengers.csv")
    result = cli(root, "new", "Passengers", "--problem", "time-series-forecasting", "--no-input",
                 "--data", str(data), "--date-column", "month", "--value-column", "passengers")
    assert result.exit_code == 0, result.output
    result = cli(root, "run", "--fast", "--workers", "1")
    assert result.exit_code == 0, result.output
    return root / "portfolio/projects/passengers"


def metrics_of(project: Path) -> dict:
    return json.loads((project / "export/metrics.json").read_text())


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_baselines_are_scored_on_the_test_part(project):
    values = airline()
    n_train = int(len(values) * 0.8)
    persistence = rmse(values[n_train:], values[n_train - 1:-1])
    seasonal = rmse(values[n_train:], values[n_train - 12:-12])
    metrics = metrics_of(project)
    assert metrics["baseline"]["value"] == pytest.approx(min(persistence, seasonal))
    assert metrics["baseline"]["strategy"].startswith(
        "seasonal naive" if seasonal < persistence else "persistence")
    test = {m["model"]: m["value"] for m in metrics["metrics"]
            if m["name"] == "rmse" and m["split"] == "test"}
    assert test["Persistence"] == pytest.approx(persistence)
    assert test["Seasonal naive"] == pytest.approx(seasonal)


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_the_ar_reference_is_computed_for_the_users_own_series(project):
    values = airline()
    n_train = int(len(values) * 0.8)
    chosen = json.loads((project / "data/prepared/transform.json").read_text())
    power, lags, order = chosen["power"], chosen["lags"], chosen["ar_order"]
    # Recomputed here without models.py: power, differencing, scaling, least squares.
    z = {"none": values, "sqrt": np.sqrt(values), "log": np.log(values)}[power]
    poly = np.array([1.0])
    for lag in lags:
        poly = np.pad(poly, (0, lag)) - np.pad(poly, (lag, 0))
    w = np.convolve(z, poly)[: len(z)]
    first = len(poly) - 1
    mean, scale = w[first:n_train].mean(), w[first:n_train].std()
    s = (w - mean) / scale
    rows = np.arange(first + order, len(values))
    X = np.column_stack([np.ones(len(rows))] + [s[rows - k] for k in range(order, 0, -1)])
    train = rows < n_train
    coef = np.linalg.lstsq(X[train], s[rows[train]], rcond=None)[0]
    past = z[rows] - w[rows]
    forecast = X[~train] @ coef * scale + mean + past[~train]
    forecast = {"none": forecast, "sqrt": np.maximum(forecast, 0) ** 2, "log": np.exp(forecast)}[power]
    metrics = metrics_of(project)
    test = {m["model"]: m for m in metrics["metrics"] if m["name"] == "rmse" and m["split"] == "test"}
    assert test[f"AR({order})"]["value"] == pytest.approx(rmse(values[n_train:], forecast), rel=1e-4)
    assert "interval" in test[f"AR({order})"]
    # Step 3 validated it on the same folds as every other model.
    cv = {m["model"] for m in metrics["metrics"] if m["split"] == "cv"}
    assert {f"AR({order})", "Persistence", "Seasonal naive", "Ridge on lags", "Extra trees",
            "Keras LSTM"} <= cv


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_every_fit_saw_only_the_training_part_before_its_fold(project):
    split = json.loads((project / "data/prepared/split.json").read_text())
    starts = [start for start, _ in split["folds"]]
    fitted_on = json.loads((project / "artifacts/fitted_on.json").read_text())
    for model, counts in fitted_on.items():
        if model not in ("Persistence", "Seasonal naive"):
            assert counts == starts, model
    assert max(end for _, end in split["folds"]) == split["n_train"]
    saved = json.loads((project / "export/model/model.json").read_text())
    assert saved["transform"]["fitted_on_values"] == split["n_train"]
    assert (saved["frequency"], saved["season"]) == ("MS", 12)
    assert saved["window"] >= 1 and (project / "export/model/model.keras").is_file()
    # Its scaling is the training part's: recomputed from the raw values here.
    values = airline()[: split["n_train"]]
    transform = models.SeriesTransform(saved["transform"]["power"],
                                       tuple(saved["transform"]["lags"])).fit(values)
    assert saved["transform"]["mean"] == pytest.approx(transform.mean_)
    assert saved["transform"]["scale"] == pytest.approx(transform.scale_)


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_findings_are_drawn_from_this_project(project):
    metrics = metrics_of(project)
    steps = {f["step"] for f in metrics["findings"]}
    assert {"02_prepare_data", "03_evaluate_algorithms", "04_improve_results",
            "05_present_results"} <= steps
    texts = " ".join(f["text"] for f in metrics["findings"])
    assert "walk-forward validation" in texts and "Test RMSE" in texts
    primary = metrics["primary"]
    assert primary["interval"]["method"].startswith("moving-block bootstrap")
    assert f"{primary['value']:.4g}" in texts
    # The network (with or without AR) beats persistence on a series with trend and season.
    test = {m["model"]: m["value"] for m in metrics["metrics"]
            if m["name"] == "rmse" and m["split"] == "test"}
    assert primary["value"] < test["Persistence"]


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_the_narrative_is_about_this_series(project):
    text = []
    for path in sorted((project / "export/notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "markdown":
                text.append("".join(cell["source"]))
            for output in cell.get("outputs", []):
                text.append(json.dumps(output.get("data", {}).get("text/markdown", "")))
                text.append(json.dumps(output.get("text", "")))
    text = "\n".join(text).lower()
    assert "sunspot" not in text and "11 years" not in text and "1950" not in text
    assert "passengers" in text and "frequency ms" in text
    step5 = json.loads((project / "export/notebooks/05_present_results.ipynb").read_text())
    headings = [("".join(c["source"])).splitlines()[0] for c in step5["cells"]
                if c["cell_type"] == "markdown"]
    assert "## Error analysis" in headings
