"""The kit's records and their one reader each: metrics.json and manifest.json (a project's
export), a project's run state and the build state.

Every command reads a record through `read_record` (or the helpers below), so a file that is
missing, truncated, not JSON, of another schema or of the wrong shape is one line everywhere:
`<file>: <what is wrong>`, naming the field where the shape is wrong. Values are checked as
they are: no string becomes a number, no number a string, and every score is finite.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import STEPS
from .errors import PortfolioError

Finite = Annotated[float, Field(allow_inf_nan=False)]
Step = Literal[STEPS]  # type: ignore[valid-type]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Spread(Record):
    std: Finite
    n: int = Field(ge=1)
    min: Finite
    max: Finite


class Interval(Record):
    """A confidence interval of a score: the bootstrap of the test rows (`pf.bootstrap`)."""

    low: Finite
    high: Finite
    level: Finite = Field(gt=0, lt=1)
    n: int = Field(ge=1)
    method: str


class MetricRecord(Record):
    """One `pf.record(...)` of a notebook."""

    name: str
    value: Finite
    split: str
    step: Step
    model: str | None = None
    spread: Spread | None = None
    interval: Interval | None = None


class Primary(Record):
    name: str
    value: Finite
    direction: Literal["maximize", "minimize"]
    split: str
    step: Step
    interval: Interval | None = None


class Baseline(Record):
    """The `pf.record_baseline(...)` of step 1."""

    name: str
    value: Finite
    strategy: str
    split: str
    step: Step


class ParamsRecord(Record):
    """One `pf.record_params(...)`: settings as the notebook recorded them."""

    name: str
    params: dict[str, Any]
    step: Step


class Finding(Record):
    """One `pf.finding(...)`: a conclusion a notebook drew from its results, in plain text."""

    text: str
    step: Step


class Metrics(Record):
    """export/metrics.json."""

    schema_version: Literal[1]
    project: str
    smoke_run: bool
    primary: Primary
    baseline: Baseline | None
    metrics: list[MetricRecord]
    params: list[ParamsRecord] = []
    findings: list[Finding] = []


class StepRun(Record):
    """How one notebook ran: its cache key and the inputs hashed into it."""

    step: Step
    key: str
    inputs: dict[str, Any]
    seconds: Finite = Field(ge=0)
    executed: bool


class RunInputs(Record):
    model_config = ConfigDict(populate_by_name=True)

    project_yml: str = Field(alias="project.yml")
    data: str | None


class Manifest(Record):
    """export/manifest.json."""

    schema_version: Literal[1]
    project: str
    smoke_run: bool
    seed: int
    backend: str
    device: str
    versions: dict[str, str]
    inputs: RunInputs
    finished: str
    seconds: Finite = Field(ge=0)
    notebooks: list[StepRun]


class Failure(Record):
    """Why a project's last run failed: the step and the cell where known."""

    message: str
    step: Step | None = None
    cell: int | None = None
    log: str | None = None


class RunState(Record):
    """A project's .portfolio/state.json: the key each step's working files were made with
    (data/prepared, artifacts), and the last run's failure."""

    steps: dict[Step, str] = {}  # type: ignore[valid-type]
    failed: Failure | None = None


class ProjectBuild(Record):
    key: str
    thumb: str | None
    files: dict[str, int]


class PageBuild(Record):
    key: str
    entries: list[dict[str, Any]]


class BuildState(Record):
    """build/state.json, written after a build that succeeded in full."""

    version: Literal[1]
    key: str
    site: list[int] | None
    projects: dict[str, ProjectBuild]
    pages: dict[str, PageBuild]
    hashes: dict[str, list[int | str]]



BROWSER_SPEC = "browser.json"
BROWSER_ONNX = "model.onnx"


# --- browser.json: what the project page's "Try the model" needs (site_builder/browser.py) ---

NAME_CHARS = 200  # the longest name (class, column, model) a record holds
Name = Annotated[str, Field(min_length=1, max_length=NAME_CHARS)]
Cell = Annotated[str, Field(max_length=1000)] | Finite | None


class BrowserField(Record):
    name: Name
    categories: list[Name] | None = Field(default=None, max_length=1000)


class BrowserSlot(Record):
    field: Name
    fill: Finite | Name | None = None
    shift: Finite | None = None
    scale: Finite | None = None
    category: Name | None = None


class BrowserExample(Record):
    values: dict[Name, Cell] | list[Finite] | None = None
    pixels: list[Finite] | None = Field(default=None, max_length=4096 * 3)
    actual: Cell = None
    expected: list[Finite] = Field(min_length=1, max_length=1000)
    dates: list[Annotated[str, Field(max_length=40)]] | None = Field(default=None,
                                                                      max_length=1000)
    target_date: Annotated[str, Field(max_length=40)] | None = None


Kind = Literal["tabular-classification", "tabular-regression", "image-classification",
               "time-series-forecasting"]


class BrowserSpec(Record):
    """export/model/browser.json: the in-browser model's inputs and examples, or why the
    project has none (`unavailable`)."""

    format: Literal[1]
    unavailable: Annotated[str, Field(max_length=400)] | None = None
    kind: Kind | None = None
    onnx: Literal["model.onnx"] | None = None
    tolerance: Finite | None = Field(default=None, gt=0, le=0.01)
    fields: list[BrowserField] | None = Field(default=None, max_length=500)
    slots: list[BrowserSlot] | None = Field(default=None, max_length=5000)
    classes: list[Name] | None = Field(default=None, min_length=2, max_length=1000)
    target: Name | None = None
    height: int | None = Field(default=None, ge=1, le=64)
    width: int | None = Field(default=None, ge=1, le=64)
    channels: Literal[1, 3] | None = None
    draw: bool = False
    ink: Finite | None = None
    background: Literal["dark", "light"] = "dark"
    name: Name | None = None
    frequency: Annotated[str, Field(max_length=40)] | None = None
    history: int | None = Field(default=None, ge=1, le=1000)
    domain: Literal["any", "non-negative", "positive"] = "any"  # a series' values (its transform)
    examples: list[BrowserExample] = Field(default=[], max_length=100)

    @model_validator(mode="after")
    def _complete(self):
        if self.unavailable is not None:
            return self
        if self.kind is None or self.onnx is None or not self.examples:
            raise ValueError("a browser model needs 'kind', 'onnx' and 'examples' (or "
                             "'unavailable')")
        outputs = len(self.classes or []) if self.kind.endswith("classification") else 1
        if self.kind.endswith("classification") and not self.classes:
            raise ValueError("a classifier needs 'classes'")
        if self.kind.startswith("tabular"):
            if not self.fields or not self.slots:
                raise ValueError("a tabular model needs 'fields' and 'slots'")
            names = {f.name for f in self.fields}
            if any(s.field not in names for s in self.slots):
                raise ValueError("a slot names a field that is not in 'fields'")
            if any(not isinstance(e.values, dict) or set(e.values) != names
                   for e in self.examples):
                raise ValueError("each example needs a value for each field")
            categorical = {s.field for s in self.slots if s.category is not None}
            for f in self.fields:
                if (f.categories is not None) != (f.name in categorical):
                    raise ValueError(f"field '{f.name}': categories and one-hot slots go "
                                     "together")
            for number, example in enumerate(self.examples):
                for f in self.fields:
                    value = example.values[f.name]
                    if f.categories is None and isinstance(value, str):
                        raise ValueError(f"example {number}: field '{f.name}' is a number, "
                                         f"not text ({value[:40]!r})")
        elif self.kind == "image-classification":
            if not (self.height and self.width and self.channels):
                raise ValueError("an image model needs 'height', 'width' and 'channels'")
            size = self.height * self.width * self.channels
            if any(e.pixels is None or len(e.pixels) != size for e in self.examples):
                raise ValueError(f"each example needs {size} pixels")
        else:
            if not self.history:
                raise ValueError("a forecaster needs 'history'")
            if any(not isinstance(e.values, list) or len(e.values) != self.history
                   for e in self.examples):
                raise ValueError(f"each example needs {self.history} values")
            if any(e.dates is not None and len(e.dates) != self.history for e in self.examples):
                raise ValueError(f"each example's 'dates' needs {self.history} dates")
        if not self.kind.endswith("classification") and any(
                isinstance(e.actual, str) for e in self.examples):
            raise ValueError("an example's 'actual' is a number for this kind of model")
        if any(len(e.expected) != outputs for e in self.examples):
            raise ValueError(f"each example's 'expected' needs {outputs} outputs")
        return self


R = TypeVar("R", bound=BaseModel)


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


# The names pydantic gives the members of a union in an error's location: not fields.
_TAGS = {"str", "float", "int", "bool", "list", "dict", "none", "nullable", "union",
         "constrained-str", "constrained-float", "constrained-int", "literal",
         "function-after", "function-before", "function-wrap", "tagged-union"}


def _tag(part) -> bool:
    return isinstance(part, str) and (part in _TAGS or re.fullmatch(r"[a-z-]+\[.*\]", part)
                                      is not None)


def problem(exc: ValidationError) -> str:
    """The first thing wrong with a record, named by its field. Where the field may take
    several forms (a union), the deepest of the failures says most: 'examples.0.values.0:
    Input should be a valid number', not the name of each form."""
    errors = exc.errors()
    first = errors[0]
    tags = [i for i, part in enumerate(first["loc"]) if _tag(part)]
    if not tags:
        return f"field '{_field(first['loc'])}': {first['msg'].removeprefix('Value error, ')}"
    prefix = first["loc"][:tags[0]]
    same = [e for e in errors if e["loc"][:len(prefix)] == prefix]
    plain = [(tuple(p for p in e["loc"] if not _tag(p)), e["msg"]) for e in same]
    deepest = max(len(loc) for loc, _ in plain)
    where = next(loc for loc, _ in plain if len(loc) == deepest)
    messages = list(dict.fromkeys(msg for loc, msg in plain if loc == where))
    said = messages[0] + "".join(" or " + m.removeprefix("Input should be ") for m in messages[1:])
    return f"field '{_field(where)}': {said.removeprefix('Value error, ')}"


def read_record(model: type[R], path: Path, display: str,
                missing: str = "missing (run 'portfolio run' again)") -> R:
    """The record in path, or a one-line PortfolioError naming display and what is wrong."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PortfolioError(f"{display}: {missing}") from None
    except UnicodeDecodeError as exc:
        raise PortfolioError(f"{display}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise PortfolioError(f"{display}: cannot be read ({(exc.strerror or str(exc)).lower()})") \
            from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PortfolioError(f"{display}: not valid JSON ({exc})") from None
    except RecursionError:
        raise PortfolioError(f"{display}: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise PortfolioError(f"{display}: expected a JSON object, found {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PortfolioError(f"{display}: {problem(exc)}") from None


def read_metrics(path: Path, display: str) -> Metrics:
    return read_record(Metrics, path, display)


def read_manifest(path: Path, display: str) -> Manifest:
    return read_record(Manifest, path, display)


def as_json(record: BaseModel) -> dict:
    """The record as the plain JSON values it was read from (fields it did not hold left out)."""
    return record.model_dump(mode="json", by_alias=True, exclude_unset=True)


def write_record(path: Path, record: BaseModel) -> None:
    """The record to path in one replace: a reader never sees half of it."""
    partial = path.with_name(path.name + ".new")
    partial.write_text(record.model_dump_json(by_alias=True), encoding="utf-8")
    partial.replace(path)
