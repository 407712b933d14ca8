"""`portfolio init DIR`: a new portfolio repository for someone who installed the kit."""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import PortfolioError

FILES = Path(__file__).resolve().parent / "init_files"
LAYOUT = {
    "mkdocs.yml": "mkdocs.yml",
    "profile.yml": "portfolio/profile.yml",
    "gitignore": ".gitignore",
    "README.md": "README.md",
    "pages.yml": ".github/workflows/pages.yml",
}


def initialize(target: Path) -> list[str]:
    """Write the files of an empty portfolio into target; refuse to overwrite any."""
    clashes = [rel for rel in LAYOUT.values() if (target / rel).exists()]
    if clashes:
        raise PortfolioError(f"{target / clashes[0]}: exists already; portfolio init writes only "
                             "into a new or empty folder")
    for source, rel in LAYOUT.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FILES / source, path)
    (target / "portfolio" / "projects").mkdir(parents=True, exist_ok=True)
    (target / "portfolio" / "projects" / ".gitkeep").touch()
    return sorted(LAYOUT.values())
