"""project.yml and profile.yml: their schema and their one-line validation errors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import PROBLEM_TYPES
from .errors import ProjectError

SCHEMA_VERSION = 1
# libyaml's loader where PyYAML was built with it: ten times faster on many projects.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ProblemType = Literal[
    "tabular-classification",
    "tabular-regression",
    "image-classification",
    "time-series-forecasting",
]
assert set(ProblemType.__args__) == set(PROBLEM_TYPES)  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dataset(Strict):
    name: str = Field(min_length=1)
    source: Literal["builtin", "file", "folder"]
    path: str | None = None
    target: str | None = None
    date_column: str | None = None
    value_column: str | None = None
    image_size: int | None = Field(default=None, ge=8, le=512)
    description: str = ""

    @model_validator(mode="after")
    def _path_for_own_data(self) -> Dataset:
        if self.source != "builtin" and not self.path:
            raise ValueError(f"a '{self.source}' dataset needs 'path'")
        return self


class Metric(Strict):
    name: str = Field(min_length=1)
    direction: Literal["maximize", "minimize"]


class ModelCard(Strict):
    intended_use: str = ""
    limitations: str = ""


class ProjectConfig(Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    title: str = Field(min_length=1)
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    summary: str = ""
    problem_type: ProblemType
    model: str = Field(min_length=1)
    dataset: Dataset
    metric: Metric
    tags: list[str] = []
    seed: int = 42
    featured: bool = False
    cover: str | None = None
    model_card: ModelCard = ModelCard()


class Link(Strict):
    label: str
    url: str


class Profile(Strict):
    name: str = Field(min_length=1)
    headline: str = ""
    bio: str = ""
    photo: str | None = None
    repository: str | None = None
    links: list[Link] = []
    site_url: str | None = None


def _field_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise ProjectError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ProjectError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a mapping of fields")
    return data


def _validate(model: type[BaseModel], path: Path, display: str):
    data = read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _field_path(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise ProjectError(f"{display}: field '{field}': {msg}") from None


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
