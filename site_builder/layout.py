"""Where things live in a portfolio repository and in a project folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import STEPS
from .errors import PortfolioError


@dataclass(frozen=True)
class Portfolio:
    root: Path

    @property
    def projects_dir(self) -> Path:
        return self.root / "portfolio" / "projects"

    @property
    def profile_file(self) -> Path:
        return self.root / "portfolio" / "profile.yml"

    @property
    def mkdocs_file(self) -> Path:
        return self.root / "mkdocs.yml"

    @property
    def state_dir(self) -> Path:
        """Git-ignored working state of the kit (locks, build cache)."""
        return self.root / ".portfolio"

    def project(self, slug: str) -> Project:
        return Project(self.projects_dir / slug)

    def projects(self) -> list[Project]:
        if not self.projects_dir.is_dir():
            return []
        return [
            Project(p)
            for p in sorted(self.projects_dir.iterdir())
            if p.is_dir() and (p / "project.yml").is_file()
        ]

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class Project:
    dir: Path

    @property
    def slug(self) -> str:
        return self.dir.name

    @property
    def config_file(self) -> Path:
        return self.dir / "project.yml"

    @property
    def notebooks_dir(self) -> Path:
        return self.dir / "notebooks"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def artifacts_dir(self) -> Path:
        return self.dir / "artifacts"

    @property
    def export_dir(self) -> Path:
        return self.dir / "export"

    @property
    def state_dir(self) -> Path:
        return self.dir / ".portfolio"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def rel(self, path: Path) -> str:
        """path as every command names it: from the root of the project's portfolio."""
        return Portfolio(self.dir.parents[2]).rel(path)

    def notebook(self, step: str) -> Path:
        return self.notebooks_dir / f"{step}.ipynb"

    def notebooks(self) -> list[Path]:
        return [self.notebook(step) for step in STEPS]


def find_portfolio(start: Path | None = None) -> Portfolio:
    """The portfolio whose root holds mkdocs.yml and portfolio/, from $PORTFOLIO_ROOT or upwards."""
    env = os.environ.get("PORTFOLIO_ROOT")
    if env:
        root = Path(env).resolve()
        if not (root / "portfolio").is_dir():
            raise PortfolioError(f"PORTFOLIO_ROOT={env}: no portfolio/ folder there")
        return Portfolio(root)
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "mkdocs.yml").is_file() and (candidate / "portfolio").is_dir():
            return Portfolio(candidate)
    raise PortfolioError(
        f"{here}: not inside a portfolio (no mkdocs.yml and portfolio/ folder here or above); "
        "run 'portfolio init DIR' to make one"
    )
