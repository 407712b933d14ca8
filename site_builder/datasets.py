"""Checks on the user's own data, run by `portfolio new` before anything is created."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import PortfolioError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise PortfolioError(f"{path}: no such file")
    if not path.is_file():
        raise PortfolioError(f"{path}: not a file (a CSV file is expected)")
    try:
        frame = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PortfolioError(f"{path}: not a readable CSV file ({reason})") from None
    except OSError as exc:
        raise PortfolioError(f"{path}: cannot read it ({exc.strerror})") from None
    if frame.empty:
        raise PortfolioError(f"{path}: the CSV file has no rows")
    return frame


def _column(frame: pd.DataFrame, path: Path, column: str | None, option: str) -> pd.Series:
    if not column:
        raise PortfolioError(f"{path}: {option} is required with your own CSV file")
    if column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:12]))
        more = ", ..." if len(frame.columns) > 12 else ""
        raise PortfolioError(f"{path}: no column '{column}' (columns: {shown}{more})")
    return frame[column]


def check_classification_csv(path: Path, target: str | None) -> None:
    frame = _read_csv(path)
    y = _column(frame, path, target, "--target").dropna()
    if y.nunique() < 2:
        raise PortfolioError(
            f"{path}: target column '{target}' has a single class; classification needs two or more"
        )
    if frame.shape[1] < 2:
        raise PortfolioError(f"{path}: no feature columns besides the target '{target}'")


def check_regression_csv(path: Path, target: str | None) -> None:
    frame = _read_csv(path)
    y = _column(frame, path, target, "--target").dropna()
    numeric = pd.to_numeric(y, errors="coerce")
    if numeric.isna().any():
        bad = y[numeric.isna()].iloc[0]
        raise PortfolioError(
            f"{path}: target column '{target}' is not numeric (value {bad!r}); "
            "regression needs a numeric target"
        )
    if frame.shape[1] < 2:
        raise PortfolioError(f"{path}: no feature columns besides the target '{target}'")


def check_time_series_csv(path: Path, date_column: str | None, value_column: str | None) -> None:
    frame = _read_csv(path)
    dates = _column(frame, path, date_column, "--date-column")
    values = _column(frame, path, value_column, "--value-column")
    parsed = pd.to_datetime(dates, errors="coerce", format="mixed")
    if parsed.isna().any():
        bad = dates[parsed.isna()].iloc[0]
        raise PortfolioError(
            f"{path}: date column '{date_column}' does not parse as dates (value {bad!r})"
        )
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        bad = values[numeric.isna()].iloc[0]
        raise PortfolioError(f"{path}: value column '{value_column}' is not numeric (value {bad!r})")
    if len(frame) < 30:
        raise PortfolioError(f"{path}: {len(frame)} rows; a forecast needs at least 30")


def check_image_folder(path: Path) -> None:
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise PortfolioError(f"{path}: no such folder")
    if not path.is_dir():
        raise PortfolioError(f"{path}: not a folder (one sub-folder of images per class is expected)")
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise PortfolioError(
            f"{path}: {len(classes)} class folder(s); image classification needs at least two "
            "sub-folders, one per class"
        )
    for folder in classes:
        images = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        if not images:
            raise PortfolioError(f"{folder}: no images (.png, .jpg, .jpeg, .bmp, .gif)")
        for image in images:
            try:
                with Image.open(image) as img:
                    img.verify()
            except (UnidentifiedImageError, OSError, SyntaxError):
                raise PortfolioError(f"{image}: not a readable image") from None
