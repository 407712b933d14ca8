"""`portfolio publish`: check, build, and commit the site to a GitHub Pages branch."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import click

from .check import KINDS, report, run_checks
from .errors import PortfolioError
from .layout import Portfolio


class Git:
    """Every git call of the publisher, with git's errors turned into one-line messages."""

    def __init__(self, root: Path):
        self.root = root

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True)
        if done.returncode != 0:
            raise PortfolioError(f"git {args[0]}: {done.stderr.strip().splitlines()[-1]}")
        return done.stdout.strip()

    def succeeds(self, *args: str) -> bool:
        return subprocess.run(["git", *args], cwd=self.root, capture_output=True).returncode == 0

    def check_repository(self) -> None:
        if not self.succeeds("rev-parse", "--show-toplevel"):
            raise PortfolioError(f"{self.root}: not a git repository (run 'git init' first)")
        if not self.succeeds("rev-parse", "--verify", "--quiet", "HEAD"):
            raise PortfolioError(f"{self.root}: the repository has no commit yet; commit the "
                                 "portfolio first (git add -A && git commit -m 'My portfolio')")

    def push(self, remote: str, branch: str) -> None:
        done = subprocess.run(["git", "push", remote, branch], cwd=self.root, capture_output=True,
                              text=True)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            reason = next((line.strip() for line in lines if "rejected" in line),
                          lines[-1] if lines else "git push failed")
            raise PortfolioError(f"push to {remote}/{branch} rejected: {reason}")

    def check_remote(self, name: str) -> None:
        if name not in self("remote").split():
            raise PortfolioError(f"--remote {name}: no such remote; add your GitHub repository "
                                 f"with 'git remote add {name} URL' (see 'git remote -v')")


@contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def publish(portfolio: Portfolio, remote: str = "origin", branch: str = "gh-pages",
            cname: str | None = None, dry_run: bool = False,
            force: tuple[str, ...] = ()) -> None:
    from ghp_import import GhpError, ghp_import

    from .site.build import build_site

    unknown = sorted(set(force) - set(KINDS))
    if unknown:
        raise PortfolioError(f"--force: unknown finding kind '{unknown[0]}' "
                             f"(choose from {', '.join(KINDS)})")
    git = Git(portfolio.root)
    git.check_repository()
    git.check_remote(remote)
    build_site(portfolio)
    site = portfolio.root / "site"
    findings, warnings = run_checks(portfolio, site)
    blocking = [f for f in findings if f.kind not in force]
    if blocking:
        report(blocking, warnings)
    for finding in findings:
        click.echo(f"forced: {finding}")
    files = sum(1 for p in site.rglob("*") if p.is_file())
    if dry_run:
        click.echo(f"dry run: would publish {portfolio.rel(site)} ({files} files) to "
                   f"{remote}/{branch}")
        return
    head = git("rev-parse", "--short", "HEAD")
    try:
        with _cwd(portfolio.root):
            ghp_import(str(site), mesg=f"Publish the portfolio from {head}", branch=branch,
                       push=False, nojekyll=True, cname=cname)
    except GhpError as exc:
        raise PortfolioError(f"commit to {branch} failed: {str(exc).strip()}") from None
    git.push(remote, branch)
    click.echo(f"published {files} files to {remote}/{branch}")
