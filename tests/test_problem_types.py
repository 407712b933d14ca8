"""Every problem type on built-in and own data, fast-run by a real kernel, with the metrics
checked for type and range and the baseline against a value computed here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from sklearn.model_selection import train_test_split

from site_builder.config import load_project

from .conftest import cli, make_portfolio

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


def houses_csv(path: Path) -> Path:
    rng = np.random.default_rng(1)
    n = 150
    rooms = rng.integers(1, 7, n)
    area = rng.normal(90, 25, n).round(1)
    town = rng.choice(["north", "south", "east"], n)
    price = 30 * rooms + 1.5 * area + np.where(town == "north", 40, 0) + rng.normal(0, 15, n)
    pd.DataFrame({"rooms": rooms, "area": area, "town": town, "price": price.round(2)}).to_csv(
        path, index=False)
    return path


def shapes_folder(path: Path) -> Path:
    counts = {"circle": 14, "square": 12, "cross": 10}
    rng = np.random.default_rng(2)
    for label, count in counts.items():
        (path / label).mkdir(parents=True)
        for i in range(count):
            image = Image.new("RGB", (24, 24), "white")
            draw = ImageDraw.Draw(image)
            a, b = rng.integers(2, 7), rng.integers(17, 22)
            if label == "circle":
                draw.ellipse((a, a, b, b), outline="black", width=2)
            elif label == "square":
                draw.rectangle((a, a, b, b), outline="black", width=2)
            else:
                draw.line((a, a, b, b), fill="black", width=2)
                draw.line((a, b, b, a), fill="black", width=2)
            image.save(path / label / f"{i:02d}.png")
    return path


def sales_csv(path: Path) -> Path:
    months = pd.date_range("2010-01-01", periods=120, freq="MS")
    rng = np.random.default_rng(3)
    values = 100 + 10 * np.sin(np.arange(120) * 2 * np.pi / 12) + np.arange(120) * 0.3 \
        + rng.normal(0, 2, 120)
    pd.DataFrame({"month": months.strftime("%Y-%m-%d"), "sales": values.round(2)}).to_csv(
        path, index=False)
    return path


def regression_baseline(frame: pd.DataFrame, target: str) -> float:
    train, test = train_test_split(frame, test_size=0.2, random_state=42)
    return float(np.sqrt(np.mean((test[target] - train[target].mean()) ** 2)))


def persistence_baseline(values: np.ndarray) -> float:
    n_train = int(len(values) * 0.8)
    actual, previous = values[n_train:], values[n_train - 1:-1]
    return float(np.sqrt(np.mean((actual - previous) ** 2)))


def majority_baseline(labels: np.ndarray) -> float:
    """The majority class of the training images (step 1's stratified split) on the test ones."""
    train, test = train_test_split(labels, test_size=0.2, stratify=labels, random_state=42)
    return float(np.mean(test == np.bincount(train).argmax()))


def expected_baseline(case: str, data: Path | None) -> float:
    if case == "tabular-regression/builtin":
        from sklearn.datasets import load_diabetes

        return regression_baseline(load_diabetes(as_frame=True, scaled=False).frame, "target")
    if case == "tabular-regression/own":
        return regression_baseline(pd.read_csv(data), "price")
    if case == "image-classification/builtin":
        from sklearn.datasets import load_digits

        return majority_baseline(load_digits().target)
    if case == "image-classification/own":
        return majority_baseline(np.repeat([0, 1, 2], [14, 10, 12]))  # circle, cross, square
    if case == "time-series-forecasting/builtin":
        import statsmodels.api as sm

        return persistence_baseline(sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"]
                                    .to_numpy(float))
    # Monthly data: the stronger of persistence and the seasonal naive forecast (12 months).
    sales = pd.read_csv(data)["sales"].to_numpy(float)
    n_train = int(len(sales) * 0.8)
    seasonal = float(np.sqrt(np.mean((sales[n_train:] - sales[n_train - 12:-12]) ** 2)))
    return min(persistence_baseline(sales), seasonal)


CASES = {
    "tabular-regression/builtin": [],
    "tabular-regression/own": ["--target", "price"],
    "image-classification/builtin": [],
    "image-classification/own": ["--image-size", "16"],
    "time-series-forecasting/builtin": [],
    "time-series-forecasting/own": ["--date-column", "month", "--value-column", "sales"],
}
MAKERS = {"tabular-regression": ("houses.csv", houses_csv),
          "image-classification": ("shapes", shapes_folder),
          "time-series-forecasting": ("sales.csv", sales_csv)}
METRICS = {"tabular-regression": ("rmse", "minimize", {"rmse", "mae", "r2"}),
           "image-classification": ("accuracy", "maximize", {"accuracy", "precision", "recall",
                                                             "f1"}),
           "time-series-forecasting": ("rmse", "minimize", {"rmse", "mae"})}


@pytest.fixture(scope="module")
def folio(tmp_path_factory) -> Path:
    """All six projects, fast-run together (two at a time)."""
    root = make_portfolio(tmp_path_factory.mktemp("types") / "folio")
    for case, options in CASES.items():
        problem, source = case.split("/")
        args = ["new", case.replace("/", " "), "--problem", problem, "--no-input", *options]
        if source == "own":
            name, maker = MAKERS[problem]
            args += ["--data", str(maker(root / name))]
        result = cli(root, *args)
        assert result.exit_code == 0, result.output
    result = cli(root, "run", "--fast", "--workers", "2")
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize("case", list(CASES))
def test_fast_run_records_metrics_in_range_and_the_right_baseline(folio, case):
    problem, source = case.split("/")
    slug = case.replace("/", "-")
    export = folio / "portfolio/projects" / slug / "export"
    metrics = json.loads((export / "metrics.json").read_text())
    name, direction, test_names = METRICS[problem]
    assert metrics["smoke_run"] is True
    primary = metrics["primary"]
    assert (primary["name"], primary["direction"], primary["split"]) == (name, direction, "test")
    assert isinstance(primary["value"], float) and np.isfinite(primary["value"])
    test = {m["name"]: m["value"] for m in metrics["metrics"] if m["split"] == "test"}
    assert test_names <= set(test)
    for metric, value in test.items():
        if metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            assert 0.0 <= value <= 1.0, metric
        elif metric in ("rmse", "mae"):
            assert value >= 0.0, metric
        elif metric == "r2":
            assert value <= 1.0
    data = None
    if source == "own":
        data = folio / MAKERS[problem][0]
    assert metrics["baseline"]["name"] == name
    assert metrics["baseline"]["value"] == pytest.approx(expected_baseline(case, data), rel=1e-6)
    cv = [m for m in metrics["metrics"] if m["split"] in ("cv", "validation")]
    assert len({m.get("model") for m in cv}) >= 3
    assert all("spread" in m for m in cv if m["step"] == "03_evaluate_algorithms")
    assert (export / "model/model.keras").is_file()
    assert len(list((export / "figures").iterdir())) >= 3


# --- portfolio predict: the exported model alone reproduces the test score ----------------

def predict(folio: Path, slug: str, source: Path, tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / f"{slug}.csv"
    result = cli(folio, "predict", slug, str(source), "--output", str(out))
    assert (result.exit_code, result.output) == (0, f"wrote {len(pd.read_csv(out))} predictions "
                                                    f"to {out}\n"), result.output
    return pd.read_csv(out)


def test_predict_on_the_test_rows_reproduces_the_regression_test_score(folio, tmp_path):
    project = folio / "portfolio/projects/tabular-regression-own"
    test = pd.read_csv(project / "data/prepared/test.csv")
    shown = predict(folio, "tabular-regression-own", project / "data/prepared/test.csv", tmp_path)
    assert list(shown.columns) == ["price", "predicted"] and len(shown) == len(test)
    rmse = float(np.sqrt(np.mean((shown["price"] - shown["predicted"]) ** 2)))
    metrics = json.loads((project / "export/metrics.json").read_text())
    assert rmse == pytest.approx(metrics["primary"]["value"], rel=1e-5)
    # Without the target column, the same predictions.
    raw = tmp_path / "no-target.csv"
    test.drop(columns="price").to_csv(raw, index=False)
    again = predict(folio, "tabular-regression-own", raw, tmp_path)
    assert list(again.columns) == ["predicted"]
    assert np.allclose(again["predicted"], shown["predicted"], rtol=1e-6)


def test_predict_refuses_a_missing_an_extra_or_a_bad_column_in_one_line(folio, tmp_path):
    project = folio / "portfolio/projects/tabular-regression-own"
    test = pd.read_csv(project / "data/prepared/test.csv")
    cases = {
        "missing.csv": (test.drop(columns="area"),
                        "missing column(s) 'area'; the model reads 'rooms', 'area', 'town'"),
        "extra.csv": (test.assign(colour="red"),
                      "column(s) 'colour' are not inputs of the model (it reads 'rooms', "
                      "'area', 'town')"),
        "bad.csv": (test.assign(area=["big"] + test["area"].astype(str).tolist()[1:]),
                    "column 'area', row 1: 'big' is not a number"),
        "infinite.csv": (test.assign(area=[np.inf] + test["area"].tolist()[1:]),
                         "column 'area', row 1: inf is out of range (a finite number of at "
                         "most 3.4e38 in size is needed)"),
    }
    for name, (frame, message) in cases.items():
        frame.to_csv(tmp_path / name, index=False)
        result = cli(folio, "predict", "tabular-regression-own", str(tmp_path / name))
        assert result.exit_code == 1
        assert result.output == f"Error: {tmp_path / name}: {message}\n"
    result = cli(folio, "predict", "../x", str(tmp_path / "extra.csv"))
    assert result.exit_code == 1 and result.output.startswith("Error: no project '../x' in ")
    # A separator at the end of every row would shift every column by one.
    trailing = tmp_path / "trailing.csv"
    lines = (project / "data/prepared/test.csv").read_text().splitlines()
    trailing.write_text("\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n")
    result = cli(folio, "predict", "tabular-regression-own", str(trailing))
    assert (result.exit_code, result.output) == (
        1, f"Error: {trailing}: the rows have more fields than the header line (a separator "
           "at the end of each line?)\n")
    # The input is never overwritten by its own predictions.
    result = cli(folio, "predict", "tabular-regression-own", str(trailing), "-o", str(trailing))
    assert (result.exit_code, result.output) == (
        1, f"Error: {trailing}: that is the input file; write the predictions elsewhere\n")
    assert trailing.read_text().startswith(lines[0])


def test_predict_on_the_test_images_reproduces_the_image_test_score(folio, tmp_path):
    project = folio / "portfolio/projects/image-classification-own"
    split = np.load(project / "data/prepared/split.npz")
    classes = split["classes"].tolist()
    listing = project / load_project(project).dataset.path / "test-images.txt"
    listing.write_text("\n".join(split["ids_test"].tolist()) + "\n")
    shown = predict(folio, "image-classification-own", listing, tmp_path)
    assert list(shown.columns) == ["image", "predicted", *(f"p({c})" for c in classes)]
    truth = [classes[i] for i in split["y_test"]]
    accuracy = float(np.mean(shown["predicted"].to_numpy() == np.array(truth)))
    metrics = json.loads((project / "export/metrics.json").read_text())
    assert accuracy == pytest.approx(metrics["primary"]["value"])
    assert np.allclose(shown[[f"p({c})" for c in classes]].sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("slug", ["time-series-forecasting-own", "time-series-forecasting-builtin"])
def test_predict_on_the_series_reproduces_the_forecast_test_score(folio, tmp_path, slug):
    project = folio / "portfolio/projects" / slug
    series = pd.read_csv(project / "data/prepared/series.csv", parse_dates=["date"])
    n_train = json.loads((project / "data/prepared/split.json").read_text())["n_train"]
    shown = predict(folio, slug, project / "data/prepared/series.csv", tmp_path)
    assert list(shown.columns) == ["date", "actual", "forecast"]
    shown["date"] = pd.to_datetime(shown["date"])
    test = shown[shown["date"].isin(series["date"].iloc[n_train:])]
    assert len(test) == len(series) - n_train
    rmse = float(np.sqrt(np.mean((test["actual"] - test["forecast"]) ** 2)))
    metrics = json.loads((project / "export/metrics.json").read_text())
    assert rmse == pytest.approx(metrics["primary"]["value"], rel=1e-5)
    # The last row is the forecast of the step after the series ends.
    assert np.isnan(shown["actual"].iloc[-1]) and shown["date"].iloc[-1] > series["date"].iloc[-1]
    # Dates out of order are refused, naming the row.
    backwards = tmp_path / "backwards.csv"
    series.iloc[::-1].to_csv(backwards, index=False)
    result = cli(folio, "predict", slug, str(backwards))
    assert result.exit_code == 1
    assert result.output == (f"Error: {backwards}: row 2: the date "
                             f"{series['date'].iloc[-2].date()} does not come after the one "
                             "before it (one row per date, oldest first)\n")


# --- the page's model: one ONNX graph from raw input, in onnxruntime and in Chromium -------

@pytest.mark.parametrize("case", list(CASES))
def test_each_type_exports_a_page_model_that_gives_the_models_outputs(folio, case):
    from site_builder.browser import parity

    problem, source = case.split("/")
    model = folio / "portfolio/projects" / case.replace("/", "-") / "export/model"
    spec = json.loads((model / "browser.json").read_text())
    assert spec["kind"] == problem and "unavailable" not in spec
    worst, count = parity(spec, model / "model.onnx")
    assert worst <= 1 and count >= 7
    if case == "tabular-regression/own":
        assert [f["name"] for f in spec["fields"]] == ["rooms", "area", "town"]
        assert spec["fields"][2]["categories"] == ["east", "north", "south"]
    if case == "image-classification/own":
        # Black outlines on white, read as grey: drawn on a light pad.
        assert (spec["height"], spec["width"], spec["channels"], spec["draw"],
                spec["background"]) == (16, 16, 1, True, "light")
        assert {e["actual"] for e in spec["examples"]} == {"circle", "cross", "square"}
    if case == "image-classification/builtin":
        assert (spec["height"], spec["channels"], spec["draw"], spec["background"]) == (
            8, 1, True, "dark")
    if case == "time-series-forecasting/own":
        last = spec["examples"][-1]
        assert (last["target_date"], last["dates"][-1], last["actual"]) == ("2020-01", "2019-12", None)


def test_each_type_runs_on_its_page_in_chromium_as_in_onnxruntime(folio):
    from .browsing import CHROMIUM, ModelPage, chromium, served, worst

    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    result = cli(folio, "build")
    assert result.exit_code == 0, result.output
    with served(folio / "site") as url, chromium() as browser:
        for case in CASES:
            slug = case.replace("/", "-")
            page = ModelPage(browser, f"{url}projects/{slug}/")
            try:
                assert page.widget_requests() == []
                page.open_model()
                spec = json.loads((folio / "site/projects" / slug / "try/browser.json").read_text())
                assert worst(page.parity()) <= spec["tolerance"], slug
                assert page.errors == [], slug
            finally:
                page.close()
