"""`portfolio predict`: predictions from a project's exported model, without its notebooks.

What export/model holds, by problem type (step 5 of each template writes it):

- tabular: `model.json` (the input columns and their types, the target, the class names),
  `preprocessor.joblib` (the fitted scikit-learn preprocessing of raw rows), `model.keras`
  (the network on the preprocessed inputs) and, where the final model averages the network
  with a classical one, `classical.joblib` (a whole pipeline from raw rows);
- images: `model.json` (the size, channels and pixel scaling the network expects),
  `classes.json` and `model.keras`;
- time series: `model.json` (the window, the transform learned on the training part, the AR
  coefficients where the forecast averages both) and `model.keras`.

The joblib files are pickles: loading one runs code, so predict only from exports you made.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .config import ProjectConfig
from .errors import PortfolioError
from .layout import Project

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def predict(project: Project, config: ProjectConfig, source: Path) -> pd.DataFrame:
    """The predictions for `source` (a CSV of raw rows, images, or a series CSV)."""
    model_dir = project.export_dir / "model"
    spec_path = model_dir / "model.json"
    if not spec_path.is_file():
        raise PortfolioError(f"{project.slug}: no exported model ({_rel(project, spec_path)} is "
                             "missing): run `portfolio run` first")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PortfolioError(f"{_rel(project, spec_path)}: not readable JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise PortfolioError(f"{_rel(project, spec_path)}: not a JSON object")
    kind = config.problem_type
    if kind in ("tabular-classification", "tabular-regression"):
        return _tabular(model_dir, spec, source, classification=kind.endswith("classification"))
    if kind == "image-classification":
        return _images(model_dir, spec, source)
    return _series(model_dir, spec, source, config)


def write(predictions: pd.DataFrame, output: Path | None) -> str | None:
    """Write the predictions as CSV to `output`, or return them as CSV text."""
    if output is None:
        return predictions.to_csv(index=False)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        predictions.to_csv(partial, index=False)
        partial.replace(output)
    except OSError as exc:
        raise PortfolioError(f"{output}: {exc.strerror or exc}") from None
    return None


# --- tabular -------------------------------------------------------------------------------

def _tabular(model_dir: Path, spec: dict, source: Path, *, classification: bool) -> pd.DataFrame:
    import joblib

    target = spec.get("target")
    inputs: dict = spec.get("inputs") or {}
    left_out = list(spec.get("left_out") or [])
    rows = _read_csv(source, dtype={target: str} if classification and target else None)
    missing = [c for c in inputs if c not in rows.columns]
    if missing:
        raise PortfolioError(f"{source}: missing column(s) {', '.join(map(repr, missing))}; the "
                             f"model reads {', '.join(map(repr, inputs))}")
    extra = [c for c in rows.columns if c not in inputs and c != target and c not in left_out]
    if extra:
        raise PortfolioError(f"{source}: column(s) {', '.join(map(repr, extra))} are not "
                             f"inputs of the model (it reads {', '.join(map(repr, inputs))})")
    for column, dtype in inputs.items():
        if _numeric(dtype) and not pd.api.types.is_numeric_dtype(rows[column]):
            converted = pd.to_numeric(rows[column], errors="coerce")
            bad = rows[column][converted.isna() & rows[column].notna()]
            if len(bad):
                raise PortfolioError(f"{source}: column {column!r}, row {bad.index[0] + 1}: "
                                     f"{str(bad.iloc[0])[:40]!r} is not a number")
            rows[column] = converted
    X = rows.drop(columns=[target] if target in rows.columns else [])
    for column in left_out:  # left out by the preprocessing: any value will do
        if column not in X.columns:
            X[column] = np.nan
    network, preprocessor = _keras(model_dir / spec.get("network", "model.keras")), \
        joblib.load(model_dir / spec.get("preprocessor", "preprocessor.joblib"))
    features = np.asarray(preprocessor.transform(X), dtype="float32")
    output = np.asarray(network.predict(features, verbose=0, batch_size=4096))
    out = pd.DataFrame(index=rows.index)
    if target in rows.columns:
        out[target] = rows[target]
    if classification:
        classes = [str(c) for c in spec.get("classes", [])]
        if output.ndim != 2 or output.shape[1] != len(classes):
            raise PortfolioError(f"{model_dir / 'model.json'}: {len(classes)} classes, but the "
                                 f"network gives {output.shape[-1]} outputs")
        out["predicted"] = np.array(classes, dtype=object)[output.argmax(axis=1)]
        for i, label in enumerate(classes):
            out[f"p({label})"] = output[:, i]
        return out
    predicted = output.reshape(len(rows))
    if spec.get("classical"):
        classical = joblib.load(model_dir / spec["classical"])
        predicted = (predicted + classical.predict(X)) / 2
    out["predicted"] = predicted
    return out


def _numeric(dtype: str) -> bool:
    return dtype.startswith(("int", "float", "uint", "Int", "Float", "UInt", "bool"))


# --- images --------------------------------------------------------------------------------

def _images(model_dir: Path, spec: dict, source: Path) -> pd.DataFrame:
    from PIL import Image, UnidentifiedImageError

    shape = spec.get("input") or {}
    classes = json.loads((model_dir / "classes.json").read_text(encoding="utf-8"))
    files = _image_files(source)
    size = (int(shape["width"]), int(shape["height"]))
    arrays = []
    for path in files:
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                if image.size != size:
                    image = image.resize(size, Image.Resampling.LANCZOS)
                arrays.append(np.asarray(image, dtype="float32"))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise PortfolioError(f"{path}: not a readable image ({exc})") from None
    images = np.stack(arrays)
    if int(shape.get("channels", 3)) == 1:
        images = images[..., :1]
    # Image files hold 8-bit pixels, whatever the training data's format was (the 8 x 8
    # digits count 0 to 16): scaled to 0-1, as the network's training images were.
    images = images / 255.0
    network = _keras(model_dir / "model.keras")
    proba = np.asarray(network.predict(images.astype("float32"), verbose=0, batch_size=256))
    out = pd.DataFrame({"image": [str(p) for p in files],
                        "predicted": np.array(classes, dtype=object)[proba.argmax(axis=1)]})
    for i, label in enumerate(classes):
        out[f"p({label})"] = proba[:, i]
    return out


def _image_files(source: Path) -> list[Path]:
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file()
                       and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise PortfolioError(f"{source}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return files
    if source.suffix.lower() in IMAGE_SUFFIXES:
        return [source]
    # A list of image paths, one per line, relative to the list's folder.
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PortfolioError(f"{source}: not an image, a folder of images or a list of them "
                             f"({exc})") from None
    files = [source.parent / line.strip() for line in lines if line.strip()]
    for path in files:
        if not path.is_file():
            raise PortfolioError(f"{source}: {line_of(lines, path, source)} is not a file")
    if not files:
        raise PortfolioError(f"{source}: lists no images")
    return files


def line_of(lines: list[str], path: Path, source: Path) -> str:
    for number, line in enumerate(lines, 1):
        if source.parent / line.strip() == path:
            return f"line {number} ({line.strip()[:60]!r})"
    return repr(str(path))


# --- time series ---------------------------------------------------------------------------

def _series(model_dir: Path, spec: dict, source: Path, config: ProjectConfig) -> pd.DataFrame:
    """One-step-ahead forecasts: for every value of the series that has a full window of
    values before it (from those actual values), and for the step after its end."""
    frame = _read_csv(source)
    # The columns of the project's own CSV, or those of data/prepared/series.csv.
    date_column = config.dataset.date_column or "date"
    value_column = config.dataset.value_column or "value"
    if date_column not in frame.columns and value_column not in frame.columns:
        date_column, value_column = "date", "value"
    for column in (date_column, value_column):
        if column not in frame.columns:
            raise PortfolioError(f"{source}: no column {column!r} (columns: "
                                 f"{', '.join(map(repr, frame.columns))})")
    dates = pd.to_datetime(frame[date_column], errors="coerce")
    values = pd.to_numeric(frame[value_column], errors="coerce")
    bad = frame.index[dates.isna() | values.isna()]
    if len(bad):
        raise PortfolioError(f"{source}: row {bad[0] + 1}: {date_column!r} or {value_column!r} "
                             "is missing or not a date/number")
    values = values.to_numpy(dtype="float64")
    transform = spec["transform"]
    lags = [int(lag) for lag in transform["lags"]]
    window = int(spec["window"])
    order = sum(lags)
    first = order + max(window, int(spec.get("ar", {}).get("order", 0)))
    if len(values) < first:
        raise PortfolioError(f"{source}: {len(values)} values; the model needs at least {first} "
                             f"(a window of {window} after {order} for the differencing)")
    power = transform["power"]
    powered = _power(values, power)
    poly = _difference_polynomial(lags)
    differenced = np.convolve(powered, poly)[: len(powered)]
    scaled = (differenced - transform["mean"]) / transform["scale"]
    # What the differencing adds back, from earlier values only: at position t (which may be
    # one past the end) sum_k>0 -c_k z_(t-k).
    extended = np.r_[powered, 0.0]
    past = -np.convolve(extended, np.r_[0.0, poly[1:]])[: len(extended)]
    positions = np.arange(first, len(values) + 1)
    padded = np.r_[scaled, 0.0].astype("float32")

    def windows(width: int) -> np.ndarray:
        view = np.lib.stride_tricks.sliding_window_view(padded, width)
        return view[positions - width]

    def back(z: np.ndarray) -> np.ndarray:
        return _unpower(z * transform["scale"] + transform["mean"] + past[positions], power)

    network = _keras(model_dir / "model.keras")
    forecast = back(np.asarray(network.predict(windows(window), verbose=0)).ravel())
    if "ar" in spec:
        ar = spec["ar"]
        linear = windows(int(ar["order"])) @ np.asarray(ar["coefficients"]) + ar["intercept"]
        forecast = (forecast + back(linear)) / 2
    step = pd.tseries.frequencies.to_offset(spec.get("frequency")) if spec.get("frequency") \
        else None
    next_date = dates.iloc[-1] + step if step is not None else pd.NaT
    when = list(dates.iloc[first:]) + [next_date]
    actual = list(values[first:]) + [np.nan]
    return pd.DataFrame({"date": when, "actual": actual, "forecast": forecast})


def _power(values: np.ndarray, power: str) -> np.ndarray:
    if power == "sqrt":
        return np.sqrt(np.maximum(values, 0.0))
    if power == "log":
        if (values <= 0).any():
            raise PortfolioError("the model log-transforms the series: every value must be > 0")
        return np.log(values)
    return values


def _unpower(values: np.ndarray, power: str) -> np.ndarray:
    if power == "sqrt":
        return np.maximum(values, 0.0) ** 2
    if power == "log":
        return np.exp(values)
    return values


def _difference_polynomial(lags: list[int]) -> np.ndarray:
    poly = np.array([1.0])
    for lag in lags:
        shifted = np.zeros(len(poly) + lag)
        shifted[lag:] = poly
        poly = np.pad(poly, (0, lag)) - shifted
    return poly


# --- shared --------------------------------------------------------------------------------

def _read_csv(source: Path, dtype: dict | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(source, dtype=dtype)
    except FileNotFoundError:
        raise PortfolioError(f"{source}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise PortfolioError(f"{source}: not a readable CSV file ({str(exc).splitlines()[0]})") \
            from None
    if frame.empty:
        raise PortfolioError(f"{source}: no rows")
    return frame


def _keras(path: Path):
    if not path.is_file():
        raise PortfolioError(f"{path}: missing from the export")
    from .notebook import quiet

    quiet()
    with _native_stderr_silenced():
        import keras

    try:
        return keras.saving.load_model(path)
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds on a bad file
        raise PortfolioError(f"{path}: Keras cannot load it ({str(exc).splitlines()[0]})") \
            from None


@contextlib.contextmanager
def _native_stderr_silenced():
    """TensorFlow's native library writes log lines to file descriptor 2 as it loads, before
    any Python setting can stop it: they are not this command's output."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _rel(project: Project, path: Path) -> str:
    try:
        return str(path.relative_to(project.dir.parent.parent.parent))
    except ValueError:
        return str(path)
