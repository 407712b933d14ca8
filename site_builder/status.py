"""`portfolio status`: where each project stands, without running anything."""

from __future__ import annotations

import os
import sys

import click
from rich.console import Console
from rich.table import Table

from . import STEPS
from .config import load_project
from .errors import PortfolioError
from .layout import Portfolio, Project
from .records import read_metrics
from .registry import reference
from .runner import RunOptions, exported_manifest, plan_run, read_run_state
from .site.pages import fmt


def project_state(project: Project) -> dict:
    """One row of the status table, as plain values."""
    config = load_project(project.dir)
    manifest = exported_manifest(project)
    # A corrupt run state only means the next run starts over: the export says where it stands.
    failed = read_run_state(project)[0].failed
    metrics_file = project.export_dir / "metrics.json"
    metrics = read_metrics(metrics_file, project.rel(metrics_file)) if manifest else None
    steps = sum((project.export_dir / "notebooks" / f"{s}.ipynb").is_file() for s in STEPS)
    if failed:
        where = ", ".join(filter(None, [failed.step, f"cell {failed.cell}" if failed.cell else ""]))
        state = f"failed ({where})" if where else "failed"
    elif not manifest:
        state = "never run"
    else:
        smoke = manifest.smoke_run
        plan = plan_run(project, RunOptions(fast=smoke), working_files=False)
        if plan.start < len(STEPS):
            state = f"stale: {plan.reason}"
        else:
            state = "smoke run" if smoke else "fresh"
    metric = config.metric.name
    baseline = metrics.baseline if metrics else None
    ref = reference(config.dataset.name, config.dataset.source, metric)
    return {
        "project": project.slug,
        "type": config.problem_type,
        "steps": f"{steps}/5",
        "state": state,
        "metric": f"{metric} {fmt(metrics.primary.value, metric)}" if metrics else "—",
        "baseline": fmt(baseline.value, metric) if baseline and baseline.name == metric else "—",
        "reference": fmt(ref["value"], metric) if ref else "—",
        "last run": manifest.finished[:16].replace("T", " ") if manifest else "—",
        "failure": failed.message if failed else None,
    }


def print_status(portfolio: Portfolio) -> None:
    table = Table(title=f"{len(portfolio.projects())} project(s)")
    columns = ("project", "type", "steps", "state", "metric", "baseline", "reference", "last run")
    for column in columns:
        table.add_column(column, overflow="fold")
    errors, failures = [], []
    for project in portfolio.projects():
        try:
            row = project_state(project)
        except PortfolioError as exc:
            errors.append(exc.message)
            continue
        table.add_row(*(row[c] for c in columns))
        if row["failure"]:
            failures.append(row["failure"])
    wide = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
    Console(width=wide).print(table)
    # click, not rich: a long message stays one line, never wrapped at the terminal's width.
    for message in failures:
        click.echo(f"Last run failed: {message}")
    for message in errors:
        click.echo(f"Error: {message}", err=True)
    if errors:
        raise PortfolioError(f"{len(errors)} project(s) could not be read")
