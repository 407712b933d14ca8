"""project.yml and profile.yml: their schema and their one-line validation errors."""

from __future__ import annotations

import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import PROBLEM_TYPES
from .errors import ProjectError

SCHEMA_VERSION = 1
# libyaml's loader where PyYAML was built with it: ten times faster on many projects.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The title and the slug end up in file and folder names (at most 255 bytes on most systems).
TITLE_MAX = 200
SLUG_MAX = 100
TAG_MAX = 60
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
# A settings file is a few hundred bytes; far more is a mistake, and libyaml crashes the
# interpreter (no exception) on collections nested tens of thousands deep.
MAX_BYTES = 1_000_000
MAX_DEPTH = 20
# Control characters, lone surrogates and the Unicode line and paragraph separators: nothing a
# title or a summary needs, and each breaks some sink (a terminal line, YAML, JavaScript, UTF-8).
_CONTROL = {"Cc", "Cs", "Zl", "Zp"}

ProblemType = Literal[
    "tabular-classification",
    "tabular-regression",
    "image-classification",
    "time-series-forecasting",
]
assert set(ProblemType.__args__) == set(PROBLEM_TYPES)  # type: ignore[attr-defined]


def _no_control(value: str, allowed: str, hint: str) -> str:
    for char in value:
        if char not in allowed and unicodedata.category(char) in _CONTROL:
            raise ValueError(f"holds the control character U+{ord(char):04X}; {hint}")
    return value


def _one_line(value: str) -> str:
    return _no_control(value, "", "write it on one line without control characters")


def _text(value: str) -> str:
    return _no_control(value, "\n\t", "only line breaks and tabs are allowed")


def _at_most(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters ({len(value)}); shorten it")
        return value

    return AfterValidator(check)


def is_inner_path(value: str) -> bool:
    """A relative POSIX path that names something below its base: no root, drive, '..' or
    backslash (a backslash is a separator on Windows and a file-name character elsewhere)."""
    posix = PurePosixPath(value)
    return ("\\" not in value and not posix.is_absolute() and not PureWindowsPath(value).drive
            and ".." not in posix.parts and bool(posix.parts))


def _path_inside(where: str) -> AfterValidator:
    def check(value: str) -> str:
        _one_line(value)
        if not is_inner_path(value):
            raise ValueError(f"must be a path inside {where} (relative, without '..', a drive or "
                             f"backslashes), not {value!r}")
        return value

    return AfterValidator(check)


# Text on one line (names, titles, labels, URLs) and prose that may span lines.
Line = Annotated[str, AfterValidator(_one_line)]
Text = Annotated[str, AfterValidator(_text)]
Title = Annotated[Line, Field(min_length=1), _at_most(TITLE_MAX)]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN), _at_most(SLUG_MAX)]
# A tag names a page of the site (tags/<tag>.md): short enough for a file name.
Tag = Annotated[Line, Field(min_length=1), _at_most(TAG_MAX)]
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif", ".svg")


def _image_file(value: str) -> str:
    """The photo is copied into the site as it is: an image, never a page or a script."""
    if not value.lower().endswith(PHOTO_SUFFIXES):
        raise ValueError(f"must be an image file ({', '.join(PHOTO_SUFFIXES)}), not {value!r}")
    return value


def inside(base: Path, rel: str, display: str, field: str) -> Path:
    """base/rel with symbolic links resolved; a one-line error naming the file and field when
    it leads outside base (a path that passed validation can still do so through a link)."""
    root = base.resolve()
    path = (root / rel).resolve()
    if not is_inner_path(rel) or not path.is_relative_to(root):
        raise ProjectError(f"{display}: field '{field}': must be a path inside {base.name}/, "
                           f"but {rel!r} leads to {path}")
    return path


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dataset(Strict):
    name: Line = Field(min_length=1)
    source: Literal["builtin", "file", "folder"]
    path: Annotated[str, _path_inside("the project folder")] | None = None
    target: Line | None = None
    date_column: Line | None = None
    value_column: Line | None = None
    image_size: int | None = Field(default=None, ge=8, le=512)
    # Classification: the class that precision, recall, F1 and ROC AUC are about (a label as
    # it appears in the data); None: the rarest class of the training rows.
    positive_class: Line | None = None
    # The data card: what the data are, where they come from and whether they may be used.
    description: Text = ""
    url: Line = ""
    licence: Line = ""
    citation: Text = ""

    @model_validator(mode="after")
    def _path_for_own_data(self) -> Dataset:
        if self.source != "builtin" and not self.path:
            raise ValueError(f"a '{self.source}' dataset needs 'path'")
        return self


class Metric(Strict):
    name: Line = Field(min_length=1)
    direction: Literal["maximize", "minimize"]


class ModelCard(Strict):
    intended_use: Text = ""
    limitations: Text = ""
    # The licence the owner gives the trained model (the model card's `license`); empty: none.
    licence: Line = ""


class ProjectConfig(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    title: Title
    slug: Slug
    summary: Line = ""
    problem_type: ProblemType
    model: Line = Field(min_length=1)
    dataset: Dataset
    metric: Metric
    tags: list[Tag] = []
    # Columns of the data to report the test metric per group of (step 5's error analysis).
    slices: list[Line] = []
    seed: int = 42
    featured: bool = False
    cover: Annotated[str, _path_inside("export/figures/")] | None = None
    model_card: ModelCard = ModelCard()


class Link(Strict):
    label: Line
    url: Line


class Profile(Strict):
    name: Line = Field(min_length=1)
    headline: Line = ""
    bio: Text = ""
    photo: Annotated[str, _path_inside("portfolio/"), AfterValidator(_image_file)] | None = None
    repository: Line | None = None
    links: list[Link] = []
    site_url: Line | None = None
    # The home page's order: these projects' slugs first, in this order (featured ones before).
    order: list[Slug] = []


def _field_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


class _DuplicateKey(Exception):
    pass


class _Loader(SAFE_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, refusing a key given twice (YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise _DuplicateKey(f"field '{key.value}': given twice (lines "
                                        f"{seen[key.value]} and {line})")
                seen[key.value] = line
        return super().construct_mapping(node, deep)


def _too_deep(text: str) -> bool:
    depth = 0
    try:
        for event in yaml.parse(text, Loader=SAFE_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return True
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        # Newer libyaml's scanner refuses deep flow nesting itself, before any event.
        if getattr(exc, "problem", None) == "exceeded maximum nesting depth":
            return True
        raise
    return False


def read_yaml(path: Path, display: str | None = None) -> dict:
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(f"{shown}: file not found") from None
    except OSError as exc:
        raise ProjectError(f"{shown}: cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ProjectError(f"{shown}: {len(raw):,} bytes; a settings file is at most "
                           f"{MAX_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{shown}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                           f"{exc.start}); save it as UTF-8") from None
    try:
        if _too_deep(text):
            raise ProjectError(f"{shown}: fields nested more than {MAX_DEPTH} levels deep")
        data = yaml.load(text, Loader=_Loader)
    except _DuplicateKey as exc:
        raise ProjectError(f"{shown}: {exc}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ProjectError(f"{shown}: not valid YAML (line {line}: the control character "
                           f"U+{exc.character:04X})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ProjectError(f"{shown}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{shown}: expected a mapping of fields")
    return data


def _validate(model: type[BaseModel], path: Path, display: str):
    data = read_yaml(path, display)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProjectError(f"{display}: {validation_message(exc)}") from None


def validation_message(exc: ValidationError, names: dict[str, str] | None = None) -> str:
    """The first error as "field 'dataset.path': what is wrong"; `names` maps a field to what
    the user typed it as (a command-line option) instead."""
    err = exc.errors()[0]
    field = _field_path(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if names and field in names:
        return f"{names[field]}: {msg}"
    return f"field '{field}': {msg}"


def load_project(project_dir: Path, display: str | None = None) -> ProjectConfig:
    path = project_dir / "project.yml"
    shown = display or str(path)
    config = _validate(ProjectConfig, path, shown)
    if config.slug != project_dir.name:
        raise ProjectError(
            f"{shown}: field 'slug': '{config.slug}' does not match the folder "
            f"name '{project_dir.name}'"
        )
    return config


def load_profile(path: Path, display: str | None = None) -> Profile:
    return _validate(Profile, path, display or str(path))
