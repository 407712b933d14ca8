"""Shared fixtures: empty portfolios in tmp folders, and fast-run projects executed once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from site_builder.cli import main

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURE_NOTEBOOKS = SHARED / "fixtures" / "notebooks"

PROFILE = """\
name: Test Person
headline: Learns deep learning by building
bio: Projects worked through five steps.
repository: https://github.com/test-person/portfolio
links:
  - label: GitHub
    url: https://github.com/test-person
"""


def make_portfolio(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (root / "portfolio" / "projects").mkdir(parents=True)
    (root / "portfolio" / "profile.yml").write_text(PROFILE)
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its content: to prove a command changed nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def cli(root: Path, *args: str, monkeypatch=None):
    """Run the portfolio command in-process in root; returns click's Result."""
    runner = CliRunner()
    import os

    old = os.getcwd()
    os.chdir(root)
    try:
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture
def portfolio_root(tmp_path: Path) -> Path:
    return make_portfolio(tmp_path / "folio")


def heart_csv(path: Path, rows: int = 120) -> Path:
    """A small classification CSV with a text column and missing values."""
    import numpy as np

    rng = np.random.default_rng(0)
    age = rng.integers(30, 80, rows)
    chol = rng.normal(230, 40, rows).round(1)
    sex = rng.choice(["female", "male"], rows)
    disease = np.where(age + (chol - 230) / 4 + rng.normal(0, 8, rows) > 56, "yes", "no")
    frame = pd.DataFrame({"age": age, "chol": chol, "sex": sex, "disease": disease})
    frame.loc[::17, "chol"] = None
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def executed(tmp_path_factory) -> Path:
    """One portfolio with two projects fast-run by a real kernel: built-in data and a CSV."""
    root = make_portfolio(tmp_path_factory.mktemp("executed") / "folio")
    data = heart_csv(root / "heart.csv")
    assert cli(root, "new", "Breast cancer diagnosis", "--no-input").exit_code == 0
    result = cli(root, "new", "Heart disease", "--data", str(data), "--target", "disease",
                 "--no-input")
    assert result.exit_code == 0, result.output
    result = cli(root, "run", "--fast")
    assert result.exit_code == 0, result.output
    return root
