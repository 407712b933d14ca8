"""The model a visitor tries on the page (site_builder/browser.py): one ONNX graph from raw
input to prediction whose outputs on the test examples match the project's model, built from
the export's files alone; and, where it cannot be built, browser.json saying why in one line
and no graph."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from site_builder.browser import encode, export_browser_model, parity
from site_builder.predict import forecasts
from site_builder.records import BrowserSpec

keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")
pytestmark = [pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                 reason="Keras exports ONNX through TensorFlow"),
              # Keras' TensorFlow backend saves weights through NumPy 2's deprecated __array__.
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

HOSTILE = '<img src=x onerror="alert(1)"> "size"'
CITY = "</script><script>alert('city')</script>"


def rows(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        HOSTILE: rng.normal(50, 10, n).round(2),
        "rooms": rng.integers(1, 6, n).astype(float),
        "city": rng.choice(["north", CITY, "éast"], n),
    })
    frame.loc[[3, 7], HOSTILE] = np.nan  # missing numbers and a missing category
    frame.loc[5, "city"] = np.nan
    return frame


def preprocessor(numeric=None):
    return ColumnTransformer([
        ("numeric", numeric or make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         [HOSTILE, "rooms"]),
        ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
         ["city"]),
    ])


def tabular_export(folder, frame, prepare, *, classes=None, classical=None):
    """An export/model as step 5 writes it: model.json, the fitted preprocessing, a network."""
    features = prepare.fit_transform(frame)
    outputs = len(classes) if classes else 1
    network = keras.Sequential([keras.Input((features.shape[1],)),
                                keras.layers.Dense(6, activation="tanh"),
                                keras.layers.Dense(outputs, activation="softmax" if classes else None)])
    network.save(folder / "model.keras")
    joblib.dump(prepare, folder / "preprocessor.joblib")
    spec = {"target": "y", "inputs": {c: str(frame[c].dtype) for c in frame.columns},
            "left_out": [], "preprocessor": "preprocessor.joblib", "network": "model.keras"}
    if classes:
        spec["classes"] = classes
    if classical is not None:
        joblib.dump(classical, folder / "classical.joblib")
        spec["classical"] = "classical.joblib"
    (folder / "model.json").write_text(json.dumps(spec))


def read_spec(folder) -> dict:
    spec = json.loads((folder / "browser.json").read_text())
    BrowserSpec.model_validate(spec)  # what the site builder accepts
    return spec


def test_a_classifier_with_missing_values_and_hostile_names_matches_in_onnxruntime(tmp_path):
    frame = rows()
    tabular_export(tmp_path, frame, preprocessor(), classes=["no", "<b>yes</b>"])
    line = export_browser_model(tmp_path, "tabular-classification", frame,
                                actual=pd.Series(["no", "<b>yes</b>"] * 30))
    assert line.startswith("model.onnx (") and line.endswith(
        "and browser.json (20 examples) written; onnxruntime gives the model's outputs within 0.0001")
    spec = read_spec(tmp_path)
    assert [f["name"] for f in spec["fields"]] == [HOSTILE, "rooms", "city"]
    assert spec["fields"][2]["categories"] == sorted([CITY, "north", "éast"])
    assert spec["classes"] == ["no", "<b>yes</b>"]
    example = spec["examples"][3]
    assert example["values"][HOSTILE] is None and example["actual"] == "<b>yes</b>"
    assert spec["examples"][5]["values"]["city"] is None  # filled by the imputer's category
    worst, count = parity(spec, tmp_path / "model.onnx")
    assert count == 20 and worst <= 1
    # The graph fills a missing number with the training median and scales it: the same
    # probabilities as the preprocessing and network of the export.
    network = keras.saving.load_model(tmp_path / "model.keras")
    prepare = joblib.load(tmp_path / "preprocessor.joblib")
    expected = network.predict(prepare.transform(frame.head(20)).astype("float32"), verbose=0)
    assert np.allclose([e["expected"] for e in spec["examples"]], expected, atol=1e-6)
    assert encode(spec, example)[0] != encode(spec, example)[0]  # NaN, for the graph to fill


def test_a_regression_averaged_with_ridge_and_min_max_scaling_matches(tmp_path):
    frame = rows()
    target = frame["rooms"] * 3 + np.arange(len(frame)) * 0.1
    numeric = make_pipeline(SimpleImputer(strategy="mean"), MinMaxScaler())
    classical = Pipeline([("prepare", preprocessor(numeric)), ("ridge", Ridge())]).fit(frame, target)
    tabular_export(tmp_path, frame, preprocessor(numeric), classical=classical)
    line = export_browser_model(tmp_path, "tabular-regression", frame, actual=target.to_numpy())
    assert "written" in line, line
    spec = read_spec(tmp_path)
    assert spec["target"] == "y" and spec["examples"][0]["actual"] == pytest.approx(target[0])
    assert parity(spec, tmp_path / "model.onnx")[0] <= 1


@pytest.mark.parametrize(("numeric", "classical", "why"), [
    (make_pipeline(SimpleImputer(), FunctionTransformer(np.log1p)), None,
     "no in-browser model: the preprocessing step FunctionTransformer has no browser form "
     "(imputers, StandardScaler, MinMaxScaler and OneHotEncoder have)"),
    (None, "forest", "no in-browser model: the classical model (RandomForestRegressor) is not linear"),
])
def test_what_has_no_browser_form_is_said_in_one_line_and_leaves_no_graph(tmp_path, numeric,
                                                                          classical, why):
    frame = rows()
    target = frame["rooms"] * 2
    prepare = preprocessor(numeric)
    pipeline = None
    if classical:
        pipeline = Pipeline([("prepare", preprocessor()),
                             ("forest", RandomForestRegressor(n_estimators=3, random_state=0))])
        pipeline.fit(frame, target)
    (tmp_path / "model.onnx").write_bytes(b"an earlier run's graph")
    tabular_export(tmp_path, frame, prepare, classical=pipeline)
    assert export_browser_model(tmp_path, "tabular-regression", frame, actual=target) == why
    assert read_spec(tmp_path) == {"format": 1, "unavailable": why.removeprefix(
        "no in-browser model: ")}
    assert not (tmp_path / "model.onnx").exists()


def test_images_keep_their_pixels_labels_and_the_averaged_networks(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.random((30, 8, 8, 1)).astype("float32")
    members = [keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(3, activation="softmax")]) for _ in range(2)]
    inputs = keras.Input((8, 8, 1))
    keras.Model(inputs, keras.layers.Average()([m(inputs) for m in members])).save(
        tmp_path / "model.keras")
    (tmp_path / "classes.json").write_text(json.dumps(["zero", "one", "<two>"]))
    (tmp_path / "model.json").write_text(json.dumps(
        {"input": {"height": 8, "width": 8, "channels": 1}}))
    line = export_browser_model(tmp_path, "image-classification", images,
                                actual=np.array([0, 1, 2] * 10))
    assert "written" in line, line
    spec = read_spec(tmp_path)
    assert (spec["draw"], spec["channels"], len(spec["examples"][0]["pixels"])) == (True, 1, 64)
    assert [e["actual"] for e in spec["examples"][:3]] == ["zero", "one", "<two>"]
    assert parity(spec, tmp_path / "model.onnx")[0] <= 1


def test_a_series_with_seasonal_differencing_and_ar_averaging_forecasts_as_predict_does(tmp_path):
    rng = np.random.default_rng(2)
    months = pd.date_range("2015-01-01", periods=60, freq="MS")
    values = 100 + 10 * np.sin(np.arange(60) * np.pi / 6) + rng.normal(0, 1, 60)
    network = keras.Sequential([keras.Input((4,)), keras.layers.Reshape((4, 1)),
                                keras.layers.LSTM(3), keras.layers.Dense(1)])
    network.save(tmp_path / "model.keras")
    spec = {"name": "sales", "frequency": "MS", "window": 4,
            "transform": {"power": "log", "lags": [12], "mean": 0.01, "scale": 0.05},
            "ar": {"order": 6, "coefficients": rng.normal(0, 0.2, 6).tolist(), "intercept": 0.1}}
    (tmp_path / "model.json").write_text(json.dumps(spec))
    line = export_browser_model(tmp_path, "time-series-forecasting", values, dates=months)
    assert "(21 examples)" in line, line
    browser = read_spec(tmp_path)
    assert browser["history"] == 18  # 12 for the differencing, then the AR model's 6 values
    last = browser["examples"][-1]
    assert last["actual"] is None and last["target_date"] == "2020-01"
    assert last["dates"][-1] == "2019-12" and len(last["values"]) == 18
    assert browser["examples"][0]["actual"] == pytest.approx(values[40])
    assert last["expected"][0] == pytest.approx(
        forecasts(spec, values, keras.saving.load_model(tmp_path / "model.keras"))[-1], rel=1e-9)
    assert parity(browser, tmp_path / "model.onnx")[0] <= 1


def test_a_class_name_too_long_for_the_page_leaves_the_page_without_the_model(tmp_path):
    frame = rows()
    long = "L" * 201
    tabular_export(tmp_path, frame, preprocessor(), classes=["no", long])
    line = export_browser_model(tmp_path, "tabular-classification", frame,
                                actual=pd.Series(["no", long] * 30))
    reason = ("browser.json would not be accepted (field 'classes.1': String should have at "
              "most 200 characters)")
    assert line == f"no in-browser model: {reason}"
    assert read_spec(tmp_path) == {"format": 1, "unavailable": reason}
    assert not (tmp_path / "model.onnx").exists()
