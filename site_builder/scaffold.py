"""`portfolio new`: bake a project from the cookiecutter template, after checking the inputs."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from slugify import slugify

from . import PROBLEM_TYPES
from .datasets import (
    check_classification_csv,
    check_image_folder,
    check_regression_csv,
    check_time_series_csv,
)
from .errors import PortfolioError
from .layout import Portfolio

# The repository's template/ (a symbolic link to it is packaged as site_builder/project_template).
TEMPLATE_DIR = Path(__file__).resolve().parent / "project_template"


class TemplateError(Exception):
    """Raised inside the template's hooks; cookiecutter then removes what it made."""


@dataclass(frozen=True)
class NewProject:
    title: str
    problem: str = "tabular-classification"
    dataset: str | None = None
    data: Path | None = None
    target: str | None = None
    date_column: str | None = None
    value_column: str | None = None
    image_size: int = 64
    slug: str | None = None
    summary: str | None = None
    seed: int = 42


def template_dir() -> Path:
    if not (TEMPLATE_DIR / "cookiecutter.json").is_file():
        raise PortfolioError(f"{TEMPLATE_DIR}: the project template is missing")
    return TEMPLATE_DIR


def problem_types() -> dict:
    """Per problem type: its model, metric, built-in dataset and tags (from cookiecutter.json)."""
    return json.loads((template_dir() / "cookiecutter.json").read_text())["_types"]


def check_slug(slug: str) -> None:
    if not slug:
        raise TemplateError("the title gives an empty folder name")


def select_notebooks(project_dir: Path, problem_type: str) -> None:
    """Move the chosen problem type's notebooks into notebooks/ and drop the others."""
    source = project_dir / "_notebooks" / problem_type
    target = project_dir / "notebooks"
    target.mkdir(exist_ok=True)
    for path in sorted(source.iterdir()):
        shutil.move(str(path), target / path.name)
    shutil.rmtree(project_dir / "_notebooks")
    (project_dir / "data").mkdir(exist_ok=True)


def _check_data(spec: NewProject, kinds: dict) -> str:
    """Check the dataset options; return the data source ('builtin', 'file' or 'folder')."""
    if spec.data is None:
        builtin = kinds[spec.problem]["builtin"]
        if spec.dataset not in (None, builtin):
            raise PortfolioError(
                f"--dataset: unknown dataset '{spec.dataset}' for {spec.problem} "
                f"(built-in: {builtin}; or give your own with --data)"
            )
        return "builtin"
    if spec.dataset is not None:
        raise PortfolioError("--dataset and --data exclude each other: give one")
    data = spec.data
    if spec.problem == "tabular-classification":
        check_classification_csv(data, spec.target)
    elif spec.problem == "tabular-regression":
        check_regression_csv(data, spec.target)
    elif spec.problem == "time-series-forecasting":
        check_time_series_csv(data, spec.date_column, spec.value_column)
    else:
        check_image_folder(data)
        return "folder"
    return "file"


def new_project(portfolio: Portfolio, spec: NewProject, no_input: bool = True) -> Path:
    """Create portfolio/projects/<slug>/; on any error nothing is left behind."""
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.main import cookiecutter

    if spec.problem not in PROBLEM_TYPES:
        raise PortfolioError(
            f"--problem: unknown problem type '{spec.problem}' "
            f"(choose from {', '.join(PROBLEM_TYPES)})"
        )
    kinds = problem_types()
    slug = spec.slug if spec.slug is not None else slugify(spec.title)
    if not slug or slugify(slug) != slug:
        raise PortfolioError(
            f"title '{spec.title}': gives no usable folder name; pass --slug with letters or digits"
            if spec.slug is None
            else f"--slug: '{spec.slug}' is not a slug (lowercase letters, digits and dashes)"
        )
    destination = portfolio.projects_dir / slug
    if destination.exists():
        raise PortfolioError(f"{portfolio.rel(destination)}: project '{slug}' exists already")
    source = _check_data(spec, kinds)

    data_path = ""
    if spec.data is not None:
        data_path = f"data/raw/{spec.data.name}"
    context = {
        "title": spec.title,
        "project_slug": slug,
        "problem_type": spec.problem,
        "data_source": source,
        "data_path": data_path,
        "target": spec.target or "",
        "date_column": spec.date_column or "",
        "value_column": spec.value_column or "",
        "image_size": str(spec.image_size),
        "seed": str(spec.seed),
    }
    if source != "builtin":
        context["dataset"] = spec.data.stem if spec.data.is_file() else spec.data.name
    if spec.summary:
        context["summary"] = spec.summary
    portfolio.projects_dir.mkdir(parents=True, exist_ok=True)
    try:
        baked = Path(
            cookiecutter(
                str(template_dir()),
                no_input=no_input,
                extra_context=context,
                output_dir=str(portfolio.projects_dir),
                accept_hooks=True,
            )
        )
        if spec.data is not None:
            raw = baked / "data" / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            if spec.data.is_dir():
                shutil.copytree(spec.data, raw / spec.data.name)
            else:
                shutil.copy2(spec.data, raw / spec.data.name)
    except FailedHookException:
        shutil.rmtree(destination, ignore_errors=True)
        raise PortfolioError(f"title '{spec.title}': gives an empty folder name") from None
    except (CookiecutterException, OSError) as exc:
        shutil.rmtree(destination, ignore_errors=True)
        raise PortfolioError(f"{portfolio.rel(destination)}: could not create it ({exc})") from None
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    return baked
