"""Read what the build needs from each project's export (no writing here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import STEPS
from ..config import ProjectConfig, inside, load_project
from ..errors import PortfolioError
from ..layout import Portfolio, Project
from ..records import as_json, read_manifest, read_metrics
from ..registry import entry, reference

RASTER = (".png", ".jpg", ".jpeg", ".webp", ".gif")


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
    # export/model/browser.json, validated: the page's "Try the model" (None: no such file)
    browser: Any = None

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
    def scored_model(self) -> str:
        """The model that made the test score: the one its record names (an ensemble, say),
        or else project.yml's `model`."""
        primary = self.primary or {}
        for record in reversed(self.metrics.get("metrics", [])):
            if all(record.get(key) == primary.get(key)
                   for key in ("name", "split", "step", "value")) and record.get("model"):
                return str(record["model"])
        return self.config.model

    @property
    def baseline(self) -> dict | None:
        return self.metrics.get("baseline")

    @property
    def findings(self) -> list[dict]:
        """The conclusions the notebooks recorded (pf.finding), in the order of the steps."""
        order = {step: i for i, step in enumerate(STEPS)}
        return sorted(self.metrics.get("findings", []), key=lambda f: order.get(f["step"], 0))

    @property
    def best(self) -> dict | None:
        """The registry's best published result for the project's metric, where it has one (an
        entry without its own metric is in the dataset's primary metric)."""
        best = (self.dataset or {}).get("best")
        if not isinstance(best, dict) or not isinstance(best.get("value"), int | float):
            return None
        metric = best.get("metric") or (self.dataset or {}).get("metric", {}).get("name")
        return best if metric == self.config.metric.name else None

    def card(self) -> dict[str, str]:
        return data_card(self.config)

    def figures_of(self, step: str) -> list[Path]:
        return [f for f in self.figures if f.name.startswith(step + "-")]

    def cover(self) -> Path | None:
        """The figure the thumbnail is made from: project.yml's cover, else the first raster
        figure of the last step that has one (a thumbnail is not made from an SVG)."""
        figures = [f for f in self.figures if f.suffix.lower() in RASTER]
        if self.config.cover:
            chosen = self.project.export_dir / "figures" / self.config.cover
            if chosen in figures:
                return chosen
        for step in reversed(STEPS):
            for figure in figures:
                if figure.name.startswith(step + "-"):
                    return figure
        return None


CARD_FIELDS = ("description", "url", "licence", "citation")
# What the registry writes where a card's field is not known: the same as a field left empty.
NOT_STATED = "not stated"


def data_card(config: ProjectConfig) -> dict[str, str]:
    """The data card of the project: project.yml's dataset fields; for built-in data, each field
    left empty there is the registry's (its `card:`, whose `source` is the URL). A field that
    is not known is ''."""
    own = {name: getattr(config.dataset, name).strip() for name in CARD_FIELDS}
    if config.dataset.source == "builtin":
        card = (entry(config.dataset.name) or {}).get("card") or {}
        registry_card = {"description": card.get("description", ""), "url": card.get("source", ""),
                         "licence": card.get("licence", ""), "citation": card.get("citation", "")}
        own = {name: value or str(registry_card[name] or "").strip() for name, value in own.items()}
    return {name: "" if value.lower() == NOT_STATED else value for name, value in own.items()}


def load_view(portfolio: Portfolio, project: Project) -> ProjectView | None:
    """The project's exported results, or None when it has no export yet."""
    config = load_project(project.dir, portfolio.rel(project.config_file))
    export = project.export_dir
    if config.cover:  # through a symbolic link, a valid path can still lead outside
        inside(export / "figures", config.cover, portfolio.rel(project.config_file), "cover")
    if not export.is_dir():
        return None
    for folder in (export, export / "notebooks", export / "figures", export / "model"):
        # A linked folder would publish whatever it points to, as a linked file would.
        plain(portfolio, folder, folder=True)
    # Validated through their models; the pages read them as the plain values they hold.
    metrics = as_json(read_metrics(export / "metrics.json", portfolio.rel(export / "metrics.json")))
    manifest = as_json(read_manifest(export / "manifest.json",
                                     portfolio.rel(export / "manifest.json")))
    notebooks = [export / "notebooks" / f"{s}.ipynb" for s in STEPS]
    present = [nb for nb in notebooks if nb.is_file() or nb.is_symlink()]
    for record in manifest.get("notebooks", []):
        path = export / "notebooks" / f"{record['step']}.ipynb"
        if path not in present:
            raise PortfolioError(f"{portfolio.rel(path)}: missing, but manifest.json lists it "
                                 "(run 'portfolio run' again)")
    figures_dir = export / "figures"
    figures = sorted(figures_dir.iterdir(), key=_figure_order) if figures_dir.is_dir() else []
    for path in present + figures:
        plain(portfolio, path)
    browser = _browser_spec(portfolio, export / "model")
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
        browser=browser,
    )


def plain(portfolio: Portfolio, path: Path, folder: bool = False) -> None:
    """Refuse what an export must not hold in place of a file (or folder): a symbolic link
    (Git keeps them: one in a committed export could publish any file), and for a file a
    folder, a FIFO (reading it would wait for ever) or a device."""
    if path.is_symlink():
        raise PortfolioError(f"{portfolio.rel(path)}: a symbolic link (to {path.readlink()}); "
                             "an export holds plain files only")
    if not folder and not path.is_file():
        raise PortfolioError(f"{portfolio.rel(path)}: not a plain file; an export holds plain "
                             "files only")


MAX_ONNX = 50 * 1024 * 1024  # the graph a visitor's browser downloads on "Try the model"


def _browser_spec(portfolio: Portfolio, folder: Path):
    """browser.json of the export's model, validated, with model.onnx beside it where it says
    the model has a browser form; None where the export has no browser.json."""
    from ..records import BROWSER_ONNX as ONNX
    from ..records import BROWSER_SPEC as SPEC
    from ..records import BrowserSpec, read_record

    path = folder / SPEC
    if not path.exists() and not path.is_symlink():
        return None
    onnx = folder / ONNX
    if onnx.is_symlink():  # refused even where browser.json is refused for another reason
        plain(portfolio, onnx)
    plain(portfolio, path)
    spec = read_record(BrowserSpec, path, portfolio.rel(path))
    if spec.unavailable is None:
        if onnx.exists():
            plain(portfolio, onnx)
        if not onnx.is_file():
            raise PortfolioError(f"{portfolio.rel(onnx)}: missing, but {SPEC} names it (run "
                                 "'portfolio run' again)")
        if onnx.stat().st_size > MAX_ONNX:
            raise PortfolioError(f"{portfolio.rel(onnx)}: {onnx.stat().st_size / 2**20:.0f} MB, "
                                 f"more than the {MAX_ONNX // 2**20} MB a page's model may have")
    return spec


def sort_views(views: list[ProjectView], order: list[str]) -> list[ProjectView]:
    """Featured projects first; then those the owner's order names (profile.yml: order, a
    list of slugs), in that order; then the most recently finished run first, then by title."""
    rank = {slug: i for i, slug in enumerate(order)}

    def finished(view: ProjectView) -> float:
        try:
            return datetime.fromisoformat(str(view.manifest.get("finished"))).timestamp()
        except ValueError:
            return 0.0

    return sorted(views, key=lambda v: (not v.config.featured, rank.get(v.slug, len(rank)),
                                        -finished(v), v.config.title.lower()))


def _figure_order(path: Path) -> tuple:
    stem = path.stem
    step, _, number = stem.rpartition("-")
    return (step, int(number) if number.isdigit() else 0)
