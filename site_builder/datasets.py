"""Checks on the user's own data, run by `portfolio new` before anything is created."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import PortfolioError
from .records import NAME_CHARS

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
# The fewest rows of a class that a stratified test split (a fifth) and 5 training folds can
# each hold one of.
MIN_CLASS_ROWS = 10
# Enough lines for csv.Sniffer to see the same separator count on each.
SNIFF_CHARS = 64 * 1024


@dataclass(frozen=True)
class CsvFile:
    """A CSV file as found (its encoding and separator) and as the project keeps it: UTF-8 with
    commas, the form the notebooks read with a plain `pd.read_csv`."""

    path: Path
    encoding: str
    separator: str
    text: str
    frame: pd.DataFrame

    @property
    def converted(self) -> bool:
        return (self.encoding, self.separator) != ("utf-8", ",")

    def note(self) -> str:
        return (f"read as {self.encoding} with {SEPARATORS[self.separator]} separators; "
                "saved as UTF-8 with commas")

    def save(self, target: Path) -> None:
        if self.converted:
            target.write_text(self.text, encoding="utf-8", newline="")
        else:
            shutil.copy2(self.path, target)


def _shown(name: object) -> str:
    """A column name on one line of a message."""
    return repr(str(name))[1:-1]


def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 when it decodes as such, else charset-normalizer's guess."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    matches = charset_normalizer.from_bytes(raw)
    best = matches.best()
    if best is None:
        raise PortfolioError(f"{path}: not text in any encoding charset-normalizer knows "
                             "(a binary file?); save it as a CSV file in UTF-8")
    # Short files often fit several single-byte code pages equally well; Windows' Western one
    # is what spreadsheets there export, and the Central European one it ties with would turn
    # 'ñ' into 'ń'.
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    encoding = "cp1252" if any("cp1252" in m.could_be_from_charset for m in tied) else best.encoding
    return raw.decode(encoding), encoding


def read_csv(path: Path) -> CsvFile:
    """Read the user's CSV file whatever its encoding and separator (one-line errors)."""
    if not path.exists():
        raise PortfolioError(f"{path}: no such file")
    if not path.is_file():
        raise PortfolioError(f"{path}: not a file (a CSV file is expected)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PortfolioError(f"{path}: cannot read it ({exc.strerror})") from None
    text, encoding = _decode(path, raw)
    if encoding == "utf-8" and text.startswith("\ufeff"):
        text, encoding = text[1:], "utf-8-sig"
    if not text.strip():
        raise PortfolioError(f"{path}: the file is empty")
    sample = text[:SNIFF_CHARS].rpartition("\n")[0] or text[:SNIFF_CHARS]
    try:
        separator = csv.Sniffer().sniff(sample, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        raise PortfolioError(f"{path}: no column separator found (a comma, semicolon, tab or "
                             "'|' the same number of times on each line); a CSV file needs a "
                             "header line and two or more columns") from None
    try:
        if (encoding, separator) != ("utf-8", ","):
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(
                csv.reader(io.StringIO(text, newline=""), delimiter=separator))
            text = out.getvalue()
        frame = pd.read_csv(io.StringIO(text))
    except (csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PortfolioError(f"{path}: not a readable CSV file ({reason})") from None
    if frame.empty:
        raise PortfolioError(f"{path}: the CSV file has no rows")
    return CsvFile(path, encoding, separator, text, frame)


def _column(data: CsvFile, column: str | None, option: str, role: str) -> pd.Series:
    path, frame = data.path, data.frame
    if not column:
        raise PortfolioError(f"{path}: {option} is required with your own CSV file")
    if column not in frame.columns:
        shown = ", ".join(_shown(c) for c in frame.columns[:12])
        more = ", ..." if len(frame.columns) > 12 else ""
        raise PortfolioError(f"{path}: no column {column!r} (columns: {shown}{more})")
    if frame[column].isna().all():
        raise PortfolioError(f"{path}: {role} column {column!r} has no values; fill it in or "
                             f"choose another {option}")
    return frame[column]


def _features(data: CsvFile, target: str) -> None:
    """The columns besides the target: at least one, none of them empty."""
    features = data.frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise PortfolioError(f"{data.path}: no feature columns besides the target {target!r}")
    empty = [c for c in features.columns if features[c].isna().all()]
    if empty:
        raise PortfolioError(f"{data.path}: column {str(empty[0])!r} has no values; fill it in "
                             "or remove the column from the file")


def _label_lengths(labels, where: str) -> None:
    """Refuse a class name longer than the site shows, in one line naming `where` it is."""
    long = [str(label) for label in labels if len(str(label)) > NAME_CHARS]
    if long:
        raise PortfolioError(
            f"{where} has a class name of {len(long[0])} characters "
            f"({_shown(long[0][:40])!r}...); at most {NAME_CHARS} are shown on the site "
            "(shorten it)")


def check_classification_csv(path: Path, target: str | None) -> CsvFile:
    data = read_csv(path)
    y = _column(data, target, "--target", "target").dropna()
    if y.nunique() < 2:
        raise PortfolioError(
            f"{path}: target column {target!r} has a single class; classification needs two or more"
        )
    counts = y.astype(str).value_counts()
    _label_lengths(counts.index, f"{path}: target column {_shown(y.name)!r}")
    if counts.iloc[-1] < MIN_CLASS_ROWS:
        raise PortfolioError(
            f"{path}: class {_shown(counts.index[-1])!r} of target column {target!r} has "
            f"{counts.iloc[-1]} row{'s' if counts.iloc[-1] != 1 else ''}; each class needs at "
            f"least {MIN_CLASS_ROWS} to be stratified into the test split and the folds "
            "(merge it with another class or drop its rows)"
        )
    _features(data, y.name)
    return data


def check_regression_csv(path: Path, target: str | None) -> CsvFile:
    data = read_csv(path)
    y = _column(data, target, "--target", "target").dropna()
    numeric = pd.to_numeric(y, errors="coerce")
    if numeric.isna().any():
        bad = y[numeric.isna()].iloc[0]
        raise PortfolioError(
            f"{path}: target column {target!r} is not numeric (value {bad!r}); "
            "regression needs a numeric target"
        )
    _features(data, y.name)
    return data


def check_time_series_csv(path: Path, date_column: str | None, value_column: str | None) -> CsvFile:
    data = read_csv(path)
    dates = _column(data, date_column, "--date-column", "date")
    values = _column(data, value_column, "--value-column", "value")
    parsed = pd.to_datetime(dates, errors="coerce", format="mixed")
    if parsed.isna().any():
        bad = dates[parsed.isna()].iloc[0]
        raise PortfolioError(
            f"{path}: date column {date_column!r} does not parse as dates (value {bad!r})"
        )
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        bad = values[numeric.isna()].iloc[0]
        raise PortfolioError(f"{path}: value column {value_column!r} is not numeric (value {bad!r})")
    if len(data.frame) < 30:
        raise PortfolioError(f"{path}: {len(data.frame)} rows; a forecast needs at least 30")
    return data


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
    _label_lengths([folder.name for folder in classes], f"{path}: a class folder")
    counts = {}
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
        counts[folder] = len(images)
    rarest = min(counts, key=counts.get)
    if counts[rarest] < MIN_CLASS_ROWS:
        raise PortfolioError(
            f"{rarest}: class {_shown(rarest.name)!r} has {counts[rarest]} "
            f"image{'s' if counts[rarest] != 1 else ''}; each class needs at least "
            f"{MIN_CLASS_ROWS} to be stratified into the test split and the folds (add images, "
            "or merge the folder with another class or remove it)"
        )
