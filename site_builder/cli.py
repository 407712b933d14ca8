"""The `portfolio` command: each sub-command maps its options to one call."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import PortfolioError
from .layout import find_portfolio

DISTRIBUTION = "dl-portfolio-kit"


def missing_from_extra(requires: list[str], extra: str, installed) -> list[str]:
    """The packages of an extra (from the kit's requirement lines) that are not installed."""
    from packaging.requirements import Requirement

    missing = []
    for line in requires:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker and marker.evaluate({"extra": extra}) and not marker.evaluate({"extra": ""}) \
                and not installed(requirement.name):
            missing.append(requirement.name)
    return missing


def require_extra(extra: str, command: str) -> None:
    """A one-line error naming the extra, where a command needs what the base install lacks."""
    from importlib import metadata

    def installed(name: str) -> bool:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            return False
        return True

    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # run from a source folder: nothing to tell from
        return
    missing = missing_from_extra(requires, extra, installed)
    if missing:
        raise PortfolioError(f"portfolio {command} needs the kit's {extra} extra ({missing[0]} is "
                             f"not installed): pip install \"{DISTRIBUTION}[{extra}]\"")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION)
def main() -> None:
    """Scaffold, run and publish deep-learning projects as a portfolio website."""
    without_iri_grammar()


def without_iri_grammar() -> None:
    """Leave rfc3987-syntax out of this process.

    nbformat checks notebooks with jsonschema, and jsonschema imports rfc3987-syntax where it
    is installed (Jupyter Server's dependencies bring it) for its `iri` formats, building that
    package's grammar as it does: 1.6 s of every command that reads a notebook. No notebook
    schema uses those formats. A kernel is a process of its own and keeps the package.
    """
    import sys

    sys.modules.setdefault("rfc3987_syntax", None)  # its import then fails, and is skipped


@main.command()
@click.argument("title")
@click.option("--problem", default="tabular-classification", show_default=True,
              help="tabular-classification, tabular-regression, image-classification "
                   "or time-series-forecasting.")
@click.option("--dataset", default=None,
              help="A built-in dataset (the problem type's default); for image-classification "
                   "also mnist, fashion_mnist or cifar10 (downloaded once into Keras' cache).")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Your own data: a CSV file, or a folder of class sub-folders of images.")
@click.option("--target", default=None, help="The target column of your CSV file.")
@click.option("--date-column", default=None, help="Time series: the date column of your CSV.")
@click.option("--value-column", default=None, help="Time series: the value column of your CSV.")
@click.option("--image-size", type=click.IntRange(8, 512), default=64, show_default=True,
              help="Image folders: the largest side in pixels kept as it is; larger "
              "or mixed sizes are resized to this square.")
@click.option("--slug", default=None, help="The project's folder name (default: from the title).")
@click.option("--summary", default=None, help="One sentence on what the project does.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--no-input", is_flag=True, help="Do not prompt; use the options and defaults.")
def new(title: str, no_input: bool, data: Path | None, **options) -> None:
    """Create portfolio/projects/<slug>/ from the template."""
    require_extra("train", "new")
    from .scaffold import NewProject, new_project

    portfolio = find_portfolio()
    spec = NewProject(title=title, data=data.expanduser().resolve() if data else None, **options)
    path = new_project(portfolio, spec, no_input=no_input)
    click.echo(f"created {portfolio.rel(path)}")


@main.command()
@click.argument("slugs", nargs=-1)
@click.option("--fast", is_flag=True, help="A smoke run: few epochs, few folds, a tiny search.")
@click.option("--force", is_flag=True, help="Re-run every notebook, even when nothing changed.")
@click.option("--timeout", type=click.IntRange(1), default=None,
              help="Seconds one cell may run before the project is stopped.")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Projects run in parallel on local processes [default: the number of cores].")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786.")
@click.option("--keep-going", is_flag=True, help="Finish the other projects when one fails.")
@click.option("--backend", default="tensorflow", show_default=True,
              help="The Keras backend: tensorflow, jax or torch.")
def run(slugs: tuple[str, ...], **options) -> None:
    """Execute each project's five notebooks in order and export the results."""
    require_extra("train", "run")
    from .runner import RunOptions, run_projects

    run_projects(find_portfolio(), list(slugs), RunOptions(**options))


@main.command()
@click.argument("slug")
@click.argument("source", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the predictions to this CSV file (default: print them).")
def predict(slug: str, source: Path, output: Path | None) -> None:
    """Predict with a project's exported model: INPUT is a CSV of raw rows (tabular), an
    image, a folder or a list of images, or a series CSV (the next value after it)."""
    require_extra("train", "predict")
    from .config import load_project
    from .predict import check_output, write
    from .predict import predict as run_predict

    projects = {p.dir.name: p for p in find_portfolio().projects()}
    if slug not in projects:
        raise PortfolioError(f"no project {slug!r} in portfolio/projects/ (projects: "
                             f"{', '.join(projects) or 'none'})")
    project = projects[slug]
    if output is not None:
        check_output(output, source)
    predictions = run_predict(project, load_project(project.dir), source)
    text = write(predictions, output)
    if text is None:
        click.echo(f"wrote {len(predictions)} predictions to {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.command()
def status() -> None:
    """A table of every project: steps done, fresh or stale, metric, last run."""
    from .status import print_status

    print_status(find_portfolio())


@main.command()
@click.option("--strict/--no-strict", default=True, show_default=True,
              help="Treat MkDocs warnings as errors.")
def build(strict: bool) -> None:
    """Render every exported project into site/."""
    from .site.build import build_site

    portfolio = find_portfolio()
    site = build_site(portfolio, strict=strict)
    if site is not None:
        click.echo(f"built {portfolio.rel(site)}")


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def serve(port: int, host: str) -> None:
    """Build, serve site/ on localhost, and rebuild and reload the page on every change."""
    from .serve import serve as serve_site

    serve_site(find_portfolio(), host, port)


@main.command()
def check() -> None:
    """Report secrets, unsafe HTML, broken links, size limits and stale or smoke exports."""
    from .check import report, run_checks

    report(*run_checks(find_portfolio()))


@main.command()
@click.option("--remote", default="origin", show_default=True)
@click.option("--branch", default="gh-pages", show_default=True)
@click.option("--cname", default=None, metavar="DOMAIN", help="A custom domain (writes CNAME).")
@click.option("--dry-run", is_flag=True, help="Check and build, but commit and push nothing.")
@click.option("--force", multiple=True, metavar="KIND",
              help="Publish despite findings of this kind (repeatable), e.g. --force smoke-run.")
def publish(**options) -> None:
    """Check, build, and commit the site to the GitHub Pages branch, then push."""
    from .publish import publish as publish_site

    publish_site(find_portfolio(), **options)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Make a new portfolio repository in DIRECTORY."""
    from .init import initialize, installed_kit_source

    source = installed_kit_source()
    files, git_line = initialize(directory, source)
    for rel in files:
        click.echo(f"created {directory / rel}")
    for line in (source.note, git_line):
        if line:
            click.echo(line)


@main.command()
@click.argument("slugs", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
def update(slugs: tuple[str, ...], dry_run: bool) -> None:
    """Merge what changed in the project template into the projects made from it."""
    require_extra("train", "update")
    from .update import update_projects

    update_projects(find_portfolio(), list(slugs), dry_run, click.echo)
