"""`portfolio status`: where each project stands, without running anything."""

from __future__ import annotations

import json
import os
import sys

from rich.console import Console
from rich.table import Table

from . import STEPS
from .config import load_project
from .errors import PortfolioError
from .layout import Portfolio, Project
from .registry import reference
from .runner import RunOptions, plan_run, read_manifest
from .site.pages import fmt


def project_state(project: Project) -> dict:
    """One row of the status table, as plain values."""
    config = load_project(project.dir)
    manifest = read_manifest(project)
    state_file = project.state_dir / "state.json"
    failed = json.loads(state_file.read_text()).get("failed") if state_file.is_file() else None
    metrics_file = project.export_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    steps = sum((project.export_dir / "notebooks" / f"{s}.ipynb").is_file() for s in STEPS)
    if failed:
        state = f"failed: {failed}"
    elif not manifest:
        state = "never run"
    else:
        smoke = bool(manifest.get("smoke_run"))
        plan = plan_run(project, RunOptions(fast=smoke), working_files=False)
        if plan.start < len(STEPS):
            state = f"stale: {plan.reason}"
        else:
            state = "smoke run" if smoke else "fresh"
    metric = config.metric.name
    primary = (metrics.get("primary") or {}).get("value")
    baseline = metrics.get("baseline") or {}
    ref = reference(config.dataset.name, config.dataset.source, metric)
    return {
        "project": project.slug,
        "type": config.problem_type,
        "steps": f"{steps}/5",
        "state": state,
        "metric": f"{metric} {fmt(primary, metric)}" if primary is not None else "—",
        "baseline": fmt(baseline.get("value"), metric) if baseline.get("name") == metric else "—",
        "reference": fmt(ref["value"], metric) if ref else "—",
        "last run": manifest.get("finished", "—")[:16].replace("T", " "),
    }


def print_status(portfolio: Portfolio) -> None:
    table = Table(title=f"{len(portfolio.projects())} project(s)")
    columns = ("project", "type", "steps", "state", "metric", "baseline", "reference", "last run")
    for column in columns:
        table.add_column(column, overflow="fold")
    errors = []
    for project in portfolio.projects():
        try:
            row = project_state(project)
        except PortfolioError as exc:
            errors.append(exc.message)
            continue
        table.add_row(*(row[c] for c in columns))
    wide = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
    Console(width=wide).print(table)
    if errors:
        for message in errors:
            Console(stderr=True).print(f"Error: {message}", markup=False, highlight=False)
        raise PortfolioError(f"{len(errors)} project(s) with an invalid project.yml")
