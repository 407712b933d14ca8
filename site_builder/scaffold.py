"""`portfolio new`: check the inputs, bake the project from the cookiecutter template, then
write what the user typed (title, summary, the data and its names) into it as data.

Cookiecutter renders every value of its context as a Jinja template, so only values the kit
validated itself (the slug, a problem type) enter it; project.yml is written with a YAML
library from a validated ProjectConfig, and the README's heading is escaped for Markdown.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click
import yaml
from pydantic import ValidationError
from slugify import slugify

from . import PROBLEM_TYPES, keras_data, registry
from .config import SLUG_MAX, ProjectConfig, validation_message
from .datasets import (
    CsvFile,
    check_classification_csv,
    check_image_folder,
    check_regression_csv,
    check_time_series_csv,
)
from .errors import PortfolioError
from .layout import Portfolio
from .placeholders import TEMPLATE_SUMMARY as DEFAULT_SUMMARY
from .update import write_record

# The repository's template/ (a symbolic link to it is packaged as site_builder/project_template).
TEMPLATE_DIR = Path(__file__).resolve().parent / "project_template"
MODEL_CARD = {
    "intended_use": "A portfolio exercise in predictive modelling; not for decisions about people.",
    "limitations": "Trained and evaluated on one small dataset; the test score carries sampling error.",
}
SETTINGS_HEADER = """\
# Settings of this project, read by its notebooks and by `portfolio run` / `portfolio build`.
# cover: a figure from export/figures/ to show on the project's card (null: the first of step 5).
"""
# The command-line names of the project.yml fields that `new` fills from what the user typed.
OPTIONS = {
    "title": "title",
    "summary": "--summary",
    "slug": "--slug",
    "seed": "--seed",
    "dataset.name": "--data",
    "dataset.path": "--data",
    "dataset.target": "--target",
    "dataset.date_column": "--date-column",
    "dataset.value_column": "--value-column",
    "dataset.image_size": "--image-size",
}


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
    # The data card of the user's own data (the registry holds the built-in data's).
    card: tuple[tuple[str, str], ...] = ()


def template_dir() -> Path:
    if not (TEMPLATE_DIR / "cookiecutter.json").is_file():
        raise PortfolioError(f"{TEMPLATE_DIR}: the project template is missing")
    return TEMPLATE_DIR


def problem_types() -> dict:
    """Per problem type: its model, metric, built-in dataset and tags (from cookiecutter.json)."""
    return json.loads((template_dir() / "cookiecutter.json").read_text())["_types"]


def select_notebooks(project_dir: Path, problem_type: str) -> None:
    """Move the chosen problem type's notebooks into notebooks/ and drop the others."""
    source = project_dir / "_notebooks" / problem_type
    target = project_dir / "notebooks"
    target.mkdir(exist_ok=True)
    for path in sorted(source.iterdir()):
        shutil.move(str(path), target / path.name)
    shutil.rmtree(project_dir / "_notebooks")
    (project_dir / "data").mkdir(exist_ok=True)


def markdown_text(text: str) -> str:
    """One line of plain text as Markdown that renders as itself, on GitHub too: the
    characters of inline markup and HTML escaped, and a start that would open a list."""
    escaped = re.sub(r"([\\`*_{}\[\]<>#|!~&])", r"\\\1", text.strip())
    return re.sub(r"^(\d*)([-+.)])", r"\1\\\2", escaped)


def template_context(config: ProjectConfig) -> dict[str, str]:
    """The template's answers: values the kit validated, never text the user typed."""
    return {"project_slug": config.slug, "problem_type": config.problem_type}


def write_settings(project_dir: Path, config: ProjectConfig) -> None:
    settings = config.model_dump(mode="json")
    settings["dataset"] = config.dataset.model_dump(mode="json", exclude_defaults=True)
    text = yaml.safe_dump(settings, sort_keys=False, allow_unicode=True, width=sys.maxsize)
    (project_dir / "project.yml").write_text(SETTINGS_HEADER + text, encoding="utf-8")


def bake(config: ProjectConfig, output_dir: Path) -> Path:
    """output_dir/<slug>/: the template rendered through cookiecutter's API, then project.yml
    and the README's heading (title and summary) written as data."""
    from cookiecutter.main import cookiecutter

    project = Path(cookiecutter(str(template_dir()), no_input=True,
                                extra_context=template_context(config),
                                output_dir=str(output_dir), accept_hooks=True))
    write_settings(project, config)
    readme = project / "README.md"
    heading = f"# {markdown_text(config.title)}\n\n{markdown_text(config.summary)}\n\n"
    readme.write_text(heading + readme.read_text(encoding="utf-8"), encoding="utf-8")
    return project


def _prompt(spec: NewProject) -> NewProject:
    """Ask for the title, summary, problem type and seed (the options are the defaults)."""
    return replace(
        spec,
        title=click.prompt("Project title", default=spec.title),
        summary=click.prompt("One-sentence summary", default=spec.summary or DEFAULT_SUMMARY),
        problem=click.prompt("Problem type", type=click.Choice(PROBLEM_TYPES),
                             default=spec.problem),
        seed=click.prompt("Random seed", type=int, default=spec.seed),
        card=_prompt_card() if spec.data is not None else spec.card,
    )


CARD_PROMPTS = {
    "description": "What the data are (one sentence; Enter to skip)",
    "url": "Where the data come from (a URL; Enter to skip)",
    "licence": "Their licence, e.g. CC BY 4.0 (Enter to skip)",
    "citation": "How to cite them (Enter to skip)",
}


def _prompt_card() -> tuple[tuple[str, str], ...]:
    """The data card of the user's own data: each field may be left empty."""
    answers = ((field, click.prompt(text, default="", show_default=False).strip())
               for field, text in CARD_PROMPTS.items())
    return tuple((field, value) for field, value in answers if value)


def builtin_card(name: str) -> dict[str, str]:
    """project.yml's data card of a built-in dataset, from the registry."""
    card = (registry.entry(name) or {}).get("card", {})
    fields = {"description": card.get("description", ""), "url": card.get("source", ""),
              "licence": card.get("licence", ""), "citation": card.get("citation", "")}
    return {field: value for field, value in fields.items() if value}


def _slug(spec: NewProject) -> str:
    if spec.slug is not None:
        if not spec.slug or slugify(spec.slug) != spec.slug:
            raise PortfolioError(
                f"--slug: {spec.slug!r} is not a slug (lowercase letters, digits and dashes)")
        return spec.slug
    slug = slugify(spec.title, max_length=SLUG_MAX, word_boundary=True)
    if not slug:
        raise PortfolioError(f"title {spec.title!r}: gives no usable folder name; pass --slug "
                             "with letters or digits")
    return slug


def _config(spec: NewProject, slug: str, kind: dict) -> ProjectConfig:
    name = spec.dataset or kind["builtin"]
    dataset: dict = {"name": name, "source": "builtin", **builtin_card(name)}
    if spec.data is not None:
        folder = spec.problem == "image-classification"
        dataset = {"name": spec.data.name if folder else spec.data.stem,
                   "source": "folder" if folder else "file",
                   "path": f"data/raw/{spec.data.name}"}
        columns = {"target": spec.target, "date_column": spec.date_column,
                   "value_column": spec.value_column}
        dataset.update((k, v) for k, v in columns.items() if v is not None)
        dataset.update(spec.card)
    if spec.problem == "image-classification":
        dataset["image_size"] = spec.image_size
    summary = DEFAULT_SUMMARY if spec.summary is None else spec.summary
    try:
        return ProjectConfig(
            title=spec.title, slug=slug, summary=summary, problem_type=spec.problem,
            model=kind["model"], dataset=dataset, tags=kind["tags"], seed=spec.seed,
            metric={"name": kind["metric"], "direction": kind["direction"]}, model_card=MODEL_CARD)
    except ValidationError as exc:
        raise PortfolioError(validation_message(exc, OPTIONS)) from None


def builtin_datasets(problem: str, kind: dict) -> list[str]:
    """The problem type's own dataset first, then the opt-in keras.datasets ones it can use."""
    return [kind["builtin"], *(keras_data.DATASETS if problem == "image-classification" else ())]


def _check_data(spec: NewProject, kind: dict) -> CsvFile | None:
    """Check the dataset options and the user's data; return their CSV file as read, if any."""
    if spec.data is None:
        choices = builtin_datasets(spec.problem, kind)
        if spec.dataset not in (None, *choices):
            raise PortfolioError(
                f"--dataset: unknown dataset {spec.dataset!r} for {spec.problem} "
                f"(built-in: {', '.join(choices)}; or give your own with --data)"
            )
        return None
    if spec.dataset is not None:
        raise PortfolioError("--dataset and --data exclude each other: give one")
    if spec.problem == "tabular-classification":
        return check_classification_csv(spec.data, spec.target)
    if spec.problem == "tabular-regression":
        return check_regression_csv(spec.data, spec.target)
    if spec.problem == "time-series-forecasting":
        return check_time_series_csv(spec.data, spec.date_column, spec.value_column)
    check_image_folder(spec.data)
    return None


def new_project(portfolio: Portfolio, spec: NewProject, no_input: bool = True) -> Path:
    """Create portfolio/projects/<slug>/; on any error nothing is left behind."""
    from cookiecutter.exceptions import CookiecutterException

    if not no_input:
        spec = _prompt(spec)
    if spec.problem not in PROBLEM_TYPES:
        raise PortfolioError(
            f"--problem: unknown problem type {spec.problem!r} "
            f"(choose from {', '.join(PROBLEM_TYPES)})"
        )
    kind = problem_types()[spec.problem]
    config = _config(spec, _slug(spec), kind)
    destination = portfolio.projects_dir / config.slug
    if destination.exists():
        raise PortfolioError(f"{portfolio.rel(destination)}: project '{config.slug}' exists already")
    table = _check_data(spec, kind)
    if config.dataset.name in keras_data.DATASETS:
        # The kit's only download, done before anything is made so that a failure leaves nothing.
        keras_data.ensure(config.dataset.name)

    portfolio.projects_dir.mkdir(parents=True, exist_ok=True)
    try:
        project = bake(config, portfolio.projects_dir)
        write_record(project, template_dir())
        if spec.data is not None:
            raw = project / "data" / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            if table is None:
                shutil.copytree(spec.data, raw / spec.data.name)
            else:
                table.save(raw / spec.data.name)
    except (CookiecutterException, OSError) as exc:
        shutil.rmtree(destination, ignore_errors=True)
        raise PortfolioError(f"{portfolio.rel(destination)}: could not create it ({exc})") from None
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    if table is not None and table.converted:
        click.echo(f"{portfolio.rel(raw / spec.data.name)}: {table.note()}")
    return project
