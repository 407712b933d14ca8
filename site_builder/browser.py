"""The model a visitor tries on the project page: one ONNX graph from raw input to prediction,
and `browser.json`, what the page's form needs (the inputs, up to 20 test examples and the
outputs the project's own model gives for them).

Step 5 of each template calls `pf.export_browser_model` after it saves export/model. The
graph is a Keras model built from the export's files alone, and converted by Keras' own
`export(format="onnx")` (tf2onnx under TensorFlow):

- tabular: the network after the fitted preprocessing's arithmetic (missing numbers filled,
  scaled), and the classical model where the final model averages with one (a linear one);
  the page makes the one-hot columns from the class names, as the encoder does;
- images: the network as saved (the ensemble averaged, no augmentation layers);
- time series: the last values of the series in, the next value out (the transform, the
  differencing, the network and its inverse, and the AR model where the forecast averages).

Anything it cannot reproduce (a preprocessing step other than imputers, scalers and one-hot
encoding, a non-linear classical model, a backend Keras cannot export from) leaves the page
without the widget, and browser.json says why in one line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .records import BROWSER_ONNX as ONNX
from .records import BROWSER_SPEC as SPEC

EXAMPLES = 20
FORMAT = 1
# Browser against Python: |a - b| <= TOLERANCE * max(1, |b|) (float32 arithmetic against
# scikit-learn's float64 preprocessing).
TOLERANCE = 1e-4


class Unsupported(Exception):
    """The export has no browser form: the message says why, in one line."""


def export_browser_model(model_dir: Path, kind: str, examples, *, actual=None,
                         dates=None) -> str:
    """Write model.onnx and browser.json into `model_dir` (export/model) and return one line
    saying what was written, or why the page goes without the widget.

    `examples`: tabular, a DataFrame of raw test rows (the columns of the data); images, an
    array of test images as the network takes them; time series, the whole series' values
    (the examples are the last 20 forecasts of it and the step after its end). `actual`: the
    test rows' targets or labels (tabular, images); `dates`: the series' dates.
    """
    model_dir = Path(model_dir)
    (model_dir / ONNX).unlink(missing_ok=True)
    try:
        if kind in ("tabular-classification", "tabular-regression"):
            spec, model, inputs = _tabular(model_dir, kind, examples, actual)
        elif kind == "image-classification":
            spec, model, inputs = _images(model_dir, examples, actual)
        elif kind == "time-series-forecasting":
            spec, model, inputs = _series(model_dir, np.asarray(examples, "float64"), dates)
        else:
            raise Unsupported(f"no browser form for problem type {kind!r}")
        _accepted_by_build(spec)
        expected = np.array([e["expected"] for e in spec["examples"]], dtype="float64")
        got = np.asarray(model.predict(inputs, verbose=0), dtype="float64")
        worst = _excess(got.reshape(expected.shape), expected)
        if worst > 1:
            raise Unsupported("the browser graph's outputs differ from the model's by more than "
                              f"{TOLERANCE} (x{worst:.3g})")
        from .notebook import export_onnx

        why = export_onnx(model, inputs, model_dir, tolerance=TOLERANCE)
        if why:
            raise Unsupported(f"Keras' ONNX export failed ({why})")
    except Exception as exc:  # noqa: BLE001 - whatever fails, the run goes on without it
        reason = " ".join(str(exc).split())[:300] if isinstance(exc, Unsupported) else \
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:250]}"
        _write(model_dir / SPEC, {"format": FORMAT, "unavailable": reason})
        return f"no in-browser model: {reason}"
    spec["onnx"] = ONNX
    spec["tolerance"] = TOLERANCE
    _write(model_dir / SPEC, spec)
    size = (model_dir / ONNX).stat().st_size
    return (f"{ONNX} ({size / 1024:.1f} KB) and {SPEC} ({len(spec['examples'])} examples) "
            f"written; onnxruntime gives the model's outputs within {TOLERANCE}")


def _accepted_by_build(spec: dict) -> None:
    """Refuse here what `portfolio build` would refuse in browser.json (a class name or a
    column too long for the page, too many fields): the page goes without the model, and the
    site still builds."""
    from pydantic import ValidationError

    from .records import BrowserSpec, problem

    try:
        BrowserSpec.model_validate({**spec, "onnx": ONNX, "tolerance": TOLERANCE})
    except ValidationError as exc:
        raise Unsupported(f"browser.json would not be accepted ({problem(exc)})") from None


def _excess(got: np.ndarray, expected: np.ndarray) -> float:
    """The worst difference as a multiple of the tolerance (above 1: out of it)."""
    if got.shape != expected.shape:
        raise Unsupported(f"the browser graph gives outputs of shape {got.shape[1:]}, the model "
                          f"{expected.shape[1:]}")
    bound = TOLERANCE * np.maximum(1.0, np.abs(expected))
    return float(np.max(np.abs(got - expected) / bound)) if expected.size else 0.0


def _write(path: Path, value: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, allow_nan=False, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def _json_value(value):
    """A cell of a raw row as JSON: a number, a string, or null where it is missing."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return None if not math.isfinite(number) else (int(number) if number.is_integer()
                                                       and abs(number) < 2 ** 53 else number)
    text = str(value)
    return None if text in ("nan", "NaT", "<NA>") else text


# --- tabular -------------------------------------------------------------------------------

def _tabular(model_dir: Path, kind: str, rows, actual):
    import joblib
    import keras

    spec = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    classification = kind == "tabular-classification"
    preprocessor = joblib.load(model_dir / spec.get("preprocessor", "preprocessor.joblib"))
    network = keras.saving.load_model(model_dir / spec.get("network", "model.keras"))
    slots = _slots(preprocessor)
    inputs = list(spec["inputs"])
    rows = rows.head(EXAMPLES).copy()
    for column in spec.get("left_out") or []:
        if column not in rows.columns:
            rows[column] = np.nan
    features = np.asarray(preprocessor.transform(rows), dtype="float32")
    if features.shape[1] != len(slots):
        raise Unsupported(f"the preprocessing gives {features.shape[1]} features where its "
                          f"steps describe {len(slots)}")
    expected = np.asarray(network.predict(features, verbose=0), dtype="float64")
    classical = None
    if spec.get("classical"):
        classical = _linear(joblib.load(model_dir / spec["classical"]), slots)
        expected = (expected.reshape(-1) + joblib.load(model_dir / spec["classical"])
                    .predict(rows)) / 2
    expected = expected.reshape(len(rows), -1)
    model = _tabular_graph(network, slots, classical)
    raw = np.array([[_slot_value(slot, row[slot["column"]]) for slot in slots]
                    for _, row in rows.iterrows()], dtype="float32")
    shown = [c for c in inputs if any(s["column"] == c for s in slots)]
    fields = []
    for column in shown:
        categories = [s["category"] for s in slots if s["column"] == column and "category" in s]
        field = {"name": str(column)}
        if categories:
            field["categories"] = categories
        fields.append(field)
    examples = []
    labels = list(actual)[:EXAMPLES] if actual is not None else [None] * len(rows)
    for (_, row), label, out in zip(rows.iterrows(), labels, expected, strict=True):
        examples.append({"values": {str(c): _json_value(row[c]) for c in shown},
                         "actual": _json_value(label), "expected": out.tolist()})
    result = {"format": FORMAT, "kind": kind, "fields": fields,
              "slots": [{k: v for k, v in s.items() if k != "column"} | {"field": str(s["column"])}
                        for s in slots],
              "examples": examples}
    if classification:
        result["classes"] = [str(c) for c in spec["classes"]]
    else:
        result["target"] = str(spec.get("target", "prediction"))
    return result, model, raw


def _slots(preprocessor) -> list[dict]:
    """The preprocessing's output columns, each described by what the browser graph does:
    a number filled where missing, shifted and scaled; or one class of a one-hot encoding."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

    if not isinstance(preprocessor, ColumnTransformer):
        raise Unsupported(f"the preprocessing is a {type(preprocessor).__name__}, not a "
                          "ColumnTransformer")
    names = list(getattr(preprocessor, "feature_names_in_", []))
    slots: list[dict] = []
    for _, transformer, columns in preprocessor.transformers_:
        if isinstance(columns, slice) or np.asarray(columns).dtype == bool:
            raise Unsupported("the preprocessing selects columns by slice or mask")
        columns = [names[c] if isinstance(c, (int, np.integer)) else c for c in columns]
        if transformer == "drop" or not columns:
            continue
        steps = [] if transformer == "passthrough" else [
            s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
        fills = [None] * len(columns)
        if steps and isinstance(steps[0], SimpleImputer):
            imputer = steps.pop(0)
            if imputer.add_indicator or not (isinstance(imputer.missing_values, float)
                                             and math.isnan(imputer.missing_values)):
                raise Unsupported("an imputer with indicator columns or its own missing value")
            fills = list(imputer.statistics_)
        if steps and isinstance(steps[-1], OneHotEncoder) and len(steps) == 1:
            encoder = steps[0]
            if encoder.drop is not None or any(
                    c is not None for c in getattr(encoder, "infrequent_categories_", []) or []):
                raise Unsupported("a one-hot encoding that drops or groups categories")
            for column, fill, categories in zip(columns, fills, encoder.categories_, strict=True):
                for category in categories:
                    if not isinstance(category, str):
                        raise Unsupported(f"column {str(column)[:60]!r}: a category that is not "
                                          "text")
                    slots.append({"column": column, "category": category,
                                  "fill": None if fill is None else str(fill)})
            continue
        shift = np.zeros(len(columns))
        scale = np.ones(len(columns))
        for step in steps:
            if isinstance(step, StandardScaler):
                step_shift = step.mean_ if step.with_mean else np.zeros(len(columns))
                step_scale = step.scale_ if step.with_std else np.ones(len(columns))
            elif isinstance(step, MinMaxScaler) and not step.clip:
                step_shift, step_scale = -step.min_ / step.scale_, 1 / step.scale_
            else:
                raise Unsupported(f"the preprocessing step {type(step).__name__} has no browser "
                                  "form (imputers, StandardScaler, MinMaxScaler and "
                                  "OneHotEncoder have)")
            shift, scale = shift + scale * step_shift, scale * step_scale
        for column, fill, s, k in zip(columns, fills, shift, scale, strict=True):
            if fill is not None and not isinstance(fill, (int, float, np.number)):
                raise Unsupported(f"column {str(column)[:60]!r}: a number filled with text")
            slots.append({"column": column, "fill": None if fill is None else float(fill),
                          "shift": float(s), "scale": float(k)})
    return slots


def _slot_value(slot: dict, value) -> float:
    """What the page feeds the graph for one slot: the number (NaN where missing) or, for a
    one-hot slot, 1 where the value (or, missing, the imputer's) is its category."""
    missing = value is None or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, str) and bool(np.all(np.isnan(value)))
        if isinstance(value, (float, np.floating)) else False)
    if "category" in slot:
        text = slot["fill"] if missing else str(value)
        return 1.0 if text == slot["category"] else 0.0
    return math.nan if missing else float(value)


def _linear(pipeline, slots: list[dict]) -> dict:
    """A classical model averaged in: a linear model after a preprocessing with the same
    output columns as the network's."""
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise Unsupported("the classical model is not a preprocessing and a model")
    own = _slots(pipeline.steps[0][1])
    model = pipeline.steps[1][1]
    if [(s["column"], s.get("category")) for s in own] != \
            [(s["column"], s.get("category")) for s in slots]:
        raise Unsupported("the classical model's preprocessing has other columns")
    coef = np.asarray(getattr(model, "coef_", None), dtype="float64") \
        if hasattr(model, "coef_") else None
    if coef is None or coef.size != len(slots):
        raise Unsupported(f"the classical model ({type(model).__name__}) is not linear")
    return {"slots": own, "coef": coef.reshape(-1), "intercept": float(np.ravel(model.intercept_)[0])}


def _tabular_graph(network, slots: list[dict], classical: dict | None):
    import keras

    def arrays(items):
        fill = np.array([0.0 if s.get("fill") is None or "category" in s else s["fill"]
                         for s in items], "float32")
        missing = np.array([s.get("fill") is None and "category" not in s for s in items])
        fill[missing] = np.nan
        shift = np.array([s.get("shift", 0.0) for s in items], "float32")
        scale = np.array([s.get("scale", 1.0) for s in items], "float32")
        return fill, shift, scale

    raw = keras.Input((len(slots),), name="inputs")
    out = network(_Affine(*arrays(slots))(raw))
    if classical is not None:
        linear = _Affine(*arrays(classical["slots"]),
                         weights=classical["coef"], bias=classical["intercept"])(raw)
        out = keras.layers.Average()([keras.layers.Reshape((1,))(out), linear])
    return keras.Model(raw, out, name="browser")


def _affine_layer():
    import keras

    class Affine(keras.layers.Layer):
        """Missing numbers filled, then (x - shift) / scale; then, given, a dot product."""

        def __init__(self, fill, shift, scale, weights=None, bias=0.0, **kwargs):
            super().__init__(**kwargs)
            self.fill, self.shift, self.scale = fill, shift, scale
            self.dot = None if weights is None else np.asarray(weights, "float32").reshape(-1, 1)
            self.bias = float(bias)

        def call(self, x):
            ops = keras.ops
            filled = ops.where(ops.isnan(x), ops.convert_to_tensor(self.fill), x)
            scaled = (filled - ops.convert_to_tensor(self.shift)) / ops.convert_to_tensor(self.scale)
            if self.dot is None:
                return scaled
            return ops.matmul(scaled, ops.convert_to_tensor(self.dot)) + self.bias

        def compute_output_shape(self, shape):
            return shape if self.dot is None else (shape[0], 1)

    return Affine


def _Affine(*args, **kwargs):  # noqa: N802 - a layer, made where Keras is imported
    return _affine_layer()(*args, **kwargs)


# --- images --------------------------------------------------------------------------------

def _images(model_dir: Path, images, labels):
    import keras

    spec = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    classes = json.loads((model_dir / "classes.json").read_text(encoding="utf-8"))
    network = keras.saving.load_model(model_dir / "model.keras")
    pixels = np.round(np.asarray(images[:EXAMPLES], "float32"), 4).astype("float32")
    expected = np.asarray(network.predict(pixels, verbose=0), "float64")
    shape = spec["input"]
    labels = list(labels[:EXAMPLES]) if labels is not None else [None] * len(pixels)
    examples = [{"pixels": image.reshape(-1).tolist(),
                 "actual": None if label is None else str(classes[int(label)])
                 if isinstance(label, (int, np.integer)) else str(label),
                 "expected": out.tolist()}
                for image, label, out in zip(pixels, labels, expected, strict=True)]
    height, width, channels = int(shape["height"]), int(shape["width"]), int(shape["channels"])
    top = float(np.max(pixels)) if pixels.size else 1.0
    return ({"format": FORMAT, "kind": "image-classification", "classes": [str(c) for c in classes],
             "height": height, "width": width, "channels": channels,
             # A grey image of at most 32 x 32 pixels can be drawn, on the background the
             # test images have (dark for the 8 x 8 digits, light for a scanned drawing):
             # pixels count up to the brightest test pixel.
             "draw": channels == 1 and max(height, width) <= 32, "ink": round(top, 4),
             "background": "light" if pixels.size and float(np.median(pixels)) > top / 2
             else "dark",
             "examples": examples}, network, pixels)


# --- time series ---------------------------------------------------------------------------

def _series(model_dir: Path, values: np.ndarray, dates):
    import keras

    from .predict import forecasts, history_length

    spec = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    network = keras.saving.load_model(model_dir / "model.keras")
    length = history_length(spec)
    ends = list(range(max(length, len(values) - EXAMPLES), len(values) + 1))
    histories = np.array([values[end - length:end] for end in ends], "float64")
    expected = np.concatenate([forecasts(spec, history, network) for history in histories])
    import pandas as pd

    dates = pd.to_datetime(pd.Series(dates)).reset_index(drop=True) if dates is not None else None
    step = pd.tseries.frequencies.to_offset(spec["frequency"]) if spec.get("frequency") else None
    examples = []
    for end, history, out in zip(ends, histories, expected, strict=True):
        example = {"values": history.tolist(), "expected": [float(out)],
                   "actual": float(values[end]) if end < len(values) else None}
        if dates is not None:
            example["dates"] = [_date_label(d, spec.get("frequency")) for d in
                                dates.iloc[end - length:end]]
            when = dates.iloc[end] if end < len(dates) else (
                dates.iloc[-1] + step if step is not None else None)
            example["target_date"] = None if when is None else _date_label(when, spec.get(
                "frequency"))
        examples.append(example)
    model = _series_graph(spec, network, length)
    return ({"format": FORMAT, "kind": "time-series-forecasting",
             "name": str(spec.get("name", "value")), "frequency": spec.get("frequency"),
             "history": length, "domain": DOMAINS.get(spec["transform"]["power"], "any"),
             "examples": examples}, model, histories.astype("float32"))


# The values a series' transform takes: the page says so rather than clamp or fail.
DOMAINS = {"sqrt": "non-negative", "log": "positive"}


def _date_label(date, frequency: str | None) -> str:
    """A date as the series' step names it: 1989 for yearly values, 1989-03 for monthly."""
    code = (frequency or "").upper()
    if code.startswith(("Y", "A")):
        return f"{date.year}"
    if code.startswith(("M", "Q")):
        return f"{date.year}-{date.month:02d}"
    return str(date.date()) if date == date.normalize() else str(date)


def _series_graph(spec: dict, network, length: int):
    """Raw history in, next value out: the template's transform as linear algebra."""
    import keras

    from .predict import _difference_polynomial

    transform = spec["transform"]
    power = transform["power"]
    if power not in ("sqrt", "log", "none", None):
        raise Unsupported(f"the transform {power!r} has no browser form")
    poly = _difference_polynomial([int(lag) for lag in transform["lags"]])
    order = len(poly) - 1
    window = int(spec["window"])
    ar = spec.get("ar")
    width = max(window, int(ar["order"]) if ar else 0)
    # Differenced values at the last `width` positions of the history, each a combination
    # of the powered values: d_t = sum_k poly_k z_(t-k).
    diff = np.zeros((length, width), "float32")
    for j in range(width):
        t = length - width + j
        for k, c in enumerate(poly):
            diff[t - k, j] = c
    past = np.zeros((length, 1), "float32")  # what the differencing adds back after the end
    for k in range(1, order + 1):
        past[length - k, 0] = -poly[k]
    mean, scale = float(transform["mean"]), float(transform["scale"])
    coef = np.asarray(ar["coefficients"], "float32").reshape(-1, 1) if ar else None
    intercept = float(ar["intercept"]) if ar else 0.0
    ar_order = int(ar["order"]) if ar else 0
    ops = keras.ops

    class Forecast(keras.layers.Layer):
        def call(self, x):
            if power == "sqrt":
                z = ops.sqrt(ops.maximum(x, 0.0))
            elif power == "log":
                z = ops.log(x)
            else:
                z = x
            scaled = (ops.matmul(z, ops.convert_to_tensor(diff)) - mean) / scale
            lagged = ops.matmul(z, ops.convert_to_tensor(past))
            out = network(scaled[:, width - window:])
            out = self.back(ops.reshape(out, (-1, 1)), lagged)
            if coef is not None:
                linear = ops.matmul(scaled[:, width - ar_order:], ops.convert_to_tensor(coef))
                out = (out + self.back(linear + intercept, lagged)) / 2
            return out

        def back(self, y, lagged):
            z = y * scale + mean + lagged
            if power == "sqrt":
                return ops.square(ops.maximum(z, 0.0))
            if power == "log":
                return ops.exp(z)
            return z

        def compute_output_shape(self, shape):
            return (shape[0], 1)

    raw = keras.Input((length,), name="history")
    return keras.Model(raw, Forecast()(raw), name="browser")


# --- parity: the page's model against the outputs browser.json gives ------------------------

def encode(spec: dict, example: dict) -> list[float]:
    """The graph's input for one example, as the page's script (try-model.mjs) makes it."""
    kind = spec["kind"]
    if kind.startswith("tabular"):
        row = []
        for slot in spec["slots"]:
            value = example["values"].get(slot["field"])
            missing = value is None or str(value).strip() == ""
            if slot.get("category") is not None:
                text = slot.get("fill") if missing else str(value)
                row.append(1.0 if text == slot["category"] else 0.0)
            else:
                row.append(math.nan if missing else float(value))
        return row
    if kind == "image-classification":
        return list(example["pixels"])
    return [float(v) for v in example["values"]]


def parity(spec: dict, onnx_path: Path) -> tuple[float, int]:
    """(the worst difference as a multiple of the tolerance, the number of examples) of the
    graph in `onnx_path` run by onnxruntime on browser.json's examples."""
    import onnxruntime

    examples = spec["examples"]
    rows = np.array([encode(spec, e) for e in examples], dtype="float32")
    if spec["kind"] == "image-classification":
        rows = rows.reshape(len(rows), spec["height"], spec["width"], spec["channels"])
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = np.asarray(session.run(None, {session.get_inputs()[0].name: rows})[0], "float64")
    expected = np.array([e["expected"] for e in examples], dtype="float64")
    bound = spec.get("tolerance", TOLERANCE) * np.maximum(1.0, np.abs(expected))
    return float(np.max(np.abs(got.reshape(expected.shape) - expected) / bound)), len(examples)
