"""Read what the build needs from each project's export (no writing here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import STEPS
from ..config import ProjectConfig, load_project
from ..errors import PortfolioError
from ..layout import Portfolio, Project
from ..registry import entry, reference


@dataclass
class ProjectView:
    project: Project
    config: ProjectConfig
    metrics: dict
    manifest: dict
    figures: list[Path]
    notebooks: list[Path]
    reference: dict | None = None
    dataset: dict | None = None
    steps_done: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.config.slug

    @property
    def smoke(self) -> bool:
        return bool(self.metrics.get("smoke_run"))

    @property
    def primary(self) -> dict | None:
        return self.metrics.get("primary")

    @property
    def baseline(self) -> dict | None:
        return self.metrics.get("baseline")

    def figures_of(self, step: str) -> list[Path]:
        return [f for f in self.figures if f.name.startswith(step + "-")]

    def cover(self) -> Path | None:
        if self.config.cover:
            chosen = self.project.export_dir / "figures" / self.config.cover
            if chosen in self.figures:
                return chosen
        for step in reversed(STEPS):
            if self.figures_of(step):
                return self.figures_of(step)[0]
        return None


def _load_json(path: Path, display: str) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PortfolioError(f"{display}: missing (run 'portfolio run' again)") from None
    except ValueError as exc:
        raise PortfolioError(f"{display}: not valid JSON ({exc})") from None
    if not isinstance(value, dict) or value.get("schema_version") != 1:
        raise PortfolioError(f"{display}: unknown schema_version (expected 1)")
    return value


def load_view(portfolio: Portfolio, project: Project) -> ProjectView | None:
    """The project's exported results, or None when it has no export yet."""
    config = load_project(project.dir, portfolio.rel(project.config_file))
    export = project.export_dir
    if not export.is_dir():
        return None
    metrics = _load_json(export / "metrics.json", portfolio.rel(export / "metrics.json"))
    manifest = _load_json(export / "manifest.json", portfolio.rel(export / "manifest.json"))
    notebooks = [export / "notebooks" / f"{s}.ipynb" for s in STEPS]
    present = [nb for nb in notebooks if nb.is_file()]
    figures_dir = export / "figures"
    figures = sorted(figures_dir.iterdir(), key=_figure_order) if figures_dir.is_dir() else []
    ref = None
    if config.dataset.source == "builtin":
        ref = reference(config.dataset.name, "builtin", config.metric.name)
    return ProjectView(
        project=project,
        config=config,
        metrics=metrics,
        manifest=manifest,
        figures=figures,
        notebooks=present,
        reference=ref,
        dataset=entry(config.dataset.name) if config.dataset.source == "builtin" else None,
        steps_done=len(present),
    )


def _figure_order(path: Path) -> tuple:
    stem = path.stem
    step, _, number = stem.rpartition("-")
    return (step, int(number) if number.isdigit() else 0)
