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
import pickle
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .config import ProjectConfig
from .errors import PortfolioError
from .layout import Project

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
EIGHT_BIT_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"}
MAX_PIXELS = 25_000_000  # one image: a 5,000 x 5,000 photograph


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
    shown = _rel(project, model_dir)
    try:
        if kind in ("tabular-classification", "tabular-regression"):
            _check_tabular_spec(spec, shown)
            return _tabular(model_dir, spec, source,
                            classification=kind.endswith("classification"))
        if kind == "image-classification":
            return _images(model_dir, spec, source)
        return _series(model_dir, spec, source, config)
    except PortfolioError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OSError,
            EOFError, pickle.UnpicklingError) as exc:
        # What is left is an export that step 5 did not write as it does today.
        raise PortfolioError(f"{shown}: not an export this version can use ({type(exc).__name__}: "
                             f"{_short(str(exc))}); run the project again") from None


def _check_tabular_spec(spec: dict, shown: str) -> None:
    inputs = spec.get("inputs")
    if not isinstance(inputs, dict) or not inputs or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in inputs.items()):
        raise PortfolioError(f"{shown}/model.json: 'inputs' must map each input column to its "
                             "type")
    if not isinstance(spec.get("left_out", []), list):
        raise PortfolioError(f"{shown}/model.json: 'left_out' must be a list of columns")
    for key in ("network", "preprocessor", "classical"):
        name = spec.get(key)
        if name is not None and (not isinstance(name, str) or Path(name).name != name):
            raise PortfolioError(f"{shown}/model.json: {key!r} must name a file of export/model")


def check_output(output: Path, source: Path) -> None:
    """Refuse an output that would destroy something: the input itself, or what a link at the
    output's path points to (the file is replaced whole, never written through a link)."""
    if not output.name or output.name in (".", ".."):
        raise PortfolioError(f"--output {str(output)!r}: a file name is needed")
    if output.is_symlink():
        raise PortfolioError(f"{output}: a link; give the path of a file to write")
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise PortfolioError(f"{output}: that is the input file; write the predictions elsewhere")
    if output.exists() and not output.is_file():
        raise PortfolioError(f"{output}: not a file")
    if output.exists() and not os.access(output, os.W_OK):
        raise PortfolioError(f"{output}: not writable")


def write(predictions: pd.DataFrame, output: Path | None) -> str | None:
    """Write the predictions as CSV to `output` (whole, or not at all), or return them as CSV
    text for a terminal (control characters shown escaped, never sent to it)."""
    predictions = _defused(predictions)
    if output is None:
        return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], predictions.to_csv(index=False))
    partial = None
    try:
        if output.parent.exists() and not output.parent.is_dir():
            raise PortfolioError(f"{output}: {output.parent} is not a folder")
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=output.parent, prefix=f".{output.name}.",
                                         suffix=".partial", delete=False, encoding="utf-8",
                                         newline="") as file:
            partial = Path(file.name)
            predictions.to_csv(file, index=False)
        partial.replace(output)
        partial = None
    except OSError as exc:
        raise PortfolioError(f"{output}: {exc.strerror or exc}") from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
    return None


# Characters a terminal would act on (colours, cursor moves, a bell), not print.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def _defused(predictions: pd.DataFrame) -> pd.DataFrame:
    """Text that a spreadsheet would run as a formula (=, +, @, or - before a non-number),
    quoted with a leading apostrophe, as OWASP advises for CSV files."""
    out = predictions.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(
                lambda v: "'" + v if isinstance(v, str) and _formula(v) else v)
    return out


def _formula(value: str) -> bool:
    if not value or value[0] not in "=+-@\t\r":
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


# --- tabular -------------------------------------------------------------------------------

def _tabular(model_dir: Path, spec: dict, source: Path, *, classification: bool) -> pd.DataFrame:
    target = spec.get("target")
    inputs: dict = spec.get("inputs") or {}
    left_out = list(spec.get("left_out") or [])
    rows = _read_csv(source)
    if classification and target in rows.columns:
        rows[target] = rows[target].map(lambda v: v if pd.isna(v) else str(v))
    missing = [c for c in inputs if c not in rows.columns]
    if missing:
        raise PortfolioError(f"{source}: missing column(s) {_names(missing)}; the model reads "
                             f"{_names(inputs)}")
    extra = [c for c in rows.columns if c not in inputs and c != target and c not in left_out]
    if extra:
        raise PortfolioError(f"{source}: column(s) {_names(extra)} are not inputs of the model "
                             f"(it reads {_names(inputs)})")
    for column, dtype in inputs.items():
        if not _numeric(dtype):
            continue
        values = rows[column]
        converted = pd.to_numeric(values, errors="coerce") \
            if not pd.api.types.is_numeric_dtype(values) or values.dtype == bool else values
        bad = values[converted.isna() & values.notna()]
        if len(bad):
            raise PortfolioError(f"{source}: column {_name(column)}, row {bad.index[0] + 1}: "
                                 f"{_short(str(bad.iloc[0]), 40)!r} is not a number")
        huge = converted[converted.notna() & ~(converted.abs() <= FLOAT32_MAX)]
        if len(huge):
            raise PortfolioError(f"{source}: column {_name(column)}, row {huge.index[0] + 1}: "
                                 f"{float(huge.iloc[0])!r} is out of range (a finite number of at most "
                                 "3.4e38 in size is needed)")
        rows[column] = converted.astype("float64")
    X = rows.drop(columns=[target] if target in rows.columns else [])
    for column in left_out:  # left out by the preprocessing: any value will do
        if column not in X.columns:
            X[column] = np.nan
    network = _keras(model_dir / spec.get("network", "model.keras"))
    preprocessor = _joblib(model_dir / spec.get("preprocessor", "preprocessor.joblib"))
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
        classical = _joblib(model_dir / spec["classical"])
        predicted = (predicted + classical.predict(X)) / 2
    out["predicted"] = predicted
    return out


FLOAT32_MAX = float(np.finfo("float32").max)


def _numeric(dtype: str) -> bool:
    return dtype.startswith(("int", "float", "uint", "Int", "Float", "UInt", "bool"))


def _name(name: object) -> str:
    return repr(_short(str(name), 60))


def _names(names, most: int = 6) -> str:
    """Column names for one line of a message: quoted, shortened, at most `most` of them."""
    names = list(names)
    shown = ", ".join(_name(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _short(text: str, most: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


# --- images --------------------------------------------------------------------------------

def _images(model_dir: Path, spec: dict, source: Path) -> pd.DataFrame:
    from PIL import Image, UnidentifiedImageError

    shape = spec.get("input")
    shown = model_dir.parent.parent.name + "/export/model"
    if not isinstance(shape, dict) or not all(
            isinstance(shape.get(k), int) and 0 < shape[k] <= 4096
            for k in ("width", "height", "channels")):
        raise PortfolioError(f"{shown}/model.json: 'input' must give the image's width, height "
                             "and channels")
    classes = json.loads((model_dir / "classes.json").read_text(encoding="utf-8"))
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str)
                                                               for c in classes):
        raise PortfolioError(f"{shown}/classes.json: must be the list of class names")
    files = _image_files(source)
    size = (shape["width"], shape["height"])
    arrays = []
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    if image.width * image.height > MAX_PIXELS:
                        raise PortfolioError(f"{path}: {image.width} x {image.height} pixels, "
                                             f"more than the {MAX_PIXELS:,} this reads")
                    if image.mode not in EIGHT_BIT_MODES:
                        raise PortfolioError(f"{path}: {image.mode!r} pixels; 8-bit grey or "
                                             "colour images are expected")
                    image = image.convert("RGB")
                    if image.size != size:
                        image = image.resize(size, Image.Resampling.LANCZOS)
                    arrays.append(np.asarray(image, dtype="float32"))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError,
                Image.DecompressionBombWarning, ValueError) as exc:
            raise PortfolioError(f"{path}: not a readable image ({_short(str(exc))})") from None
    images = np.stack(arrays)
    if int(shape.get("channels", 3)) == 1:
        images = images[..., :1]
    # Image files hold 8-bit pixels, whatever the training data's format was (the 8 x 8
    # digits count 0 to 16): scaled to 0-1, as the network's training images were.
    images = images / 255.0
    network = _keras(model_dir / "model.keras")
    proba = np.asarray(network.predict(images.astype("float32"), verbose=0, batch_size=256))
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise PortfolioError(f"{shown}/classes.json: {len(classes)} classes, but the network "
                             f"gives {proba.shape[-1]} outputs")
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
        try:
            found = path.is_file()
        except OSError:  # a line that cannot be a file name: a CSV's header, a long text
            found = False
        if not found and path.suffix.lower() not in IMAGE_SUFFIXES:
            raise PortfolioError(f"{source}: not an image, a folder of images or a list of "
                                 f"them ({line_of(lines, path, source)} names no image file)")
        if not found:
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
    raw_dates = frame[date_column]
    if pd.api.types.is_integer_dtype(raw_dates):  # years written as numbers: 1749
        dates = pd.to_datetime(raw_dates.astype(str), format="%Y", errors="coerce")
    else:
        dates = pd.to_datetime(raw_dates, format="mixed", errors="coerce")
    values = pd.to_numeric(frame[value_column], errors="coerce")
    bad = frame.index[dates.isna() | values.isna()]
    if len(bad):
        raise PortfolioError(f"{source}: row {bad[0] + 1}: {_name(date_column)} or "
                             f"{_name(value_column)} is missing or not a date/number")
    huge = frame.index[~(values.abs() <= FLOAT32_MAX)]
    if len(huge):
        raise PortfolioError(f"{source}: row {huge[0] + 1}: {float(values[huge[0]])!r} is out of range "
                             "(a finite number of at most 3.4e38 in size is needed)")
    steps = dates.diff().iloc[1:]
    if (steps <= pd.Timedelta(0)).any():
        row = int(np.flatnonzero((steps <= pd.Timedelta(0)).to_numpy())[0]) + 2
        raise PortfolioError(f"{source}: row {row}: the date {dates.iloc[row - 1].date()} does "
                             "not come after the one before it (one row per date, oldest first)")
    frequency = spec.get("frequency")
    if frequency and len(dates) >= 3:
        found = pd.infer_freq(dates)
        if found is None or pd.tseries.frequencies.to_offset(found) != \
                pd.tseries.frequencies.to_offset(frequency):
            spacing = "not evenly spaced" if found is None else f"spaced {found!r}"
            raise PortfolioError(f"{source}: the dates are {spacing}; the model forecasts one "
                                 f"step of {frequency!r}")
    values = values.to_numpy(dtype="float64")
    transform = spec["transform"]
    if transform["power"] in ("sqrt", "log"):
        sqrt = transform["power"] == "sqrt"
        low = np.flatnonzero(values < 0 if sqrt else values <= 0)
        if len(low):
            raise PortfolioError(
                f"{source}: row {low[0] + 1}: {values[low[0]]:g}; the model takes the "
                f"{'square root' if sqrt else 'logarithm'} of the series, so every value must "
                f"be {'0 or more' if sqrt else 'above 0'}")
    first = history_length(spec)
    if len(values) < first:
        raise PortfolioError(f"{source}: {len(values)} values; the model needs at least {first} "
                             f"(a window of {int(spec['window'])} after "
                             f"{sum(int(lag) for lag in transform['lags'])} for the differencing)")
    forecast = forecasts(spec, values, _keras(model_dir / "model.keras"))
    step = pd.tseries.frequencies.to_offset(spec.get("frequency")) if spec.get("frequency") \
        else None
    next_date = dates.iloc[-1] + step if step is not None else pd.NaT
    when = list(dates.iloc[first:]) + [next_date]
    actual = list(values[first:]) + [np.nan]
    return pd.DataFrame({"date": when, "actual": actual, "forecast": forecast})


def history_length(spec: dict) -> int:
    """How many values the first forecast needs: the differencing's, then the window's."""
    order = sum(int(lag) for lag in spec["transform"]["lags"])
    return order + max(int(spec["window"]), int(spec.get("ar", {}).get("order", 0)))


def forecasts(spec: dict, values: np.ndarray, network) -> np.ndarray:
    """The one-step-ahead forecast at each position from history_length(spec) to one past the
    end of `values`, from the actual values before it."""
    transform = spec["transform"]
    lags = [int(lag) for lag in transform["lags"]]
    window = int(spec["window"])
    first = history_length(spec)
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

    forecast = back(np.asarray(network.predict(windows(window), verbose=0)).ravel())
    if "ar" in spec:
        ar = spec["ar"]
        linear = windows(int(ar["order"])) @ np.asarray(ar["coefficients"]) + ar["intercept"]
        forecast = (forecast + back(linear)) / 2
    return forecast


# The arithmetic of the time-series template's SeriesTransform (models.py), again here so
# that an export predicts without the project's notebooks; the tests check that both give
# the same test score.
def _power(values: np.ndarray, power: str) -> np.ndarray:
    if power == "sqrt":
        return np.sqrt(np.maximum(values, 0.0))
    if power == "log":
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

def _read_csv(source: Path) -> pd.DataFrame:
    """The CSV as `portfolio new` reads it (any encoding; comma, semicolon, tab or '|')."""
    from .datasets import read_csv

    frame = read_csv(source).frame
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas makes the first column the index where rows have more fields than the header.
        raise PortfolioError(f"{source}: the rows have more fields than the header line (a "
                             "separator at the end of each line?)")
    return frame


def _joblib(path: Path):
    import joblib

    if not path.is_file():
        raise PortfolioError(f"{path}: missing from the export")
    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling raises many kinds on a bad file
        raise PortfolioError(f"{path}: cannot be loaded ({type(exc).__name__}: "
                             f"{_short(str(exc))}); run the project again") from None


def _keras(path: Path):
    if not path.is_file():
        raise PortfolioError(f"{path}: missing from the export")
    import zipfile

    if not zipfile.is_zipfile(path):
        raise PortfolioError(f"{path}: not a Keras model file (a .keras file is a zip archive); "
                             "run the project again")
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
