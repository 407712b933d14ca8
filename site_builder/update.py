"""`portfolio update`: merge what changed in the project template into projects made from it.

A project records the template version it was made from in `.template.json` (the kit
repository's last commit of template/). `update` renders that old template and the current
one with the project's answers (read again from its validated project.yml, never from the
record, which is only a commit: a record is untrusted like any file), and merges
the difference into the project three-way, as git merges a branch: a file the user did
not change takes the template's new version, a file the template did not change keeps the
user's, and a file both changed is merged line by line (text: merge3) or cell by cell
(notebooks: nbdime). A conflict leaves standard conflict markers where they belong (in the
cell, in a notebook that stays valid JSON) and one line naming the file.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import PortfolioError
from .gitcall import git_output
from .layout import Project

RECORD = ".template.json"
_COMMIT = re.compile(r"[0-9a-f]{40}")
# The user's settings and the kit's own record: never merged from the template.
NOT_MERGED = {"project.yml", RECORD}


@dataclass(frozen=True)
class Change:
    path: str
    action: str  # "updated", "merged", "added", "removed", "conflict", "kept"
    detail: str = ""

    def line(self, slug: str, dry_run: bool) -> str:
        verb = f"would be {self.action}" if dry_run and self.action != "conflict" else self.action
        return f"{slug}: {self.path}: {verb}" + (f" ({self.detail})" if self.detail else "")


def template_version(template: Path) -> dict:
    """The template's version: the kit's version, and the last commit that changed template/
    where the kit is a git checkout (else None: such a project cannot be updated later)."""
    commit = git_output(template, "log", "-1", "--format=%H", "--", ".")
    return {"kit": __version__, "commit": (commit or "").strip() or None}


def write_record(project_dir: Path, template: Path) -> None:
    record = template_version(template)
    (project_dir / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read_record(project: Project, display: str) -> dict:
    path = project.dir / RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PortfolioError(f"{display}/{RECORD}: missing: the project does not say which "
                             "template version it was made from, so it cannot be updated") from None
    except (OSError, ValueError) as exc:
        raise PortfolioError(f"{display}/{RECORD}: not valid JSON ({exc})") from None
    commit = record.get("commit") if isinstance(record, dict) else None
    if commit is None:
        raise PortfolioError(f"{display}/{RECORD}: field 'commit': empty: the project was made "
                             "from a kit installed without its git history; update needs a kit "
                             "installed from its git repository")
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise PortfolioError(f"{display}/{RECORD}: field 'commit': not a commit hash "
                             "(40 hexadecimal digits)")
    return record


def template_at(template: Path, commit: str, dest: Path) -> Path:
    """The template folder as it was at `commit`, extracted into dest."""
    top = git_output(template, "rev-parse", "--show-toplevel")
    prefix = git_output(template, "rev-parse", "--show-prefix")
    if top is None or prefix is None:
        raise PortfolioError(f"{template}: not in a git repository: the template's history "
                             "is needed to update a project")
    archive = git_output(Path(top.strip()), "archive", "--format=tar", "--end-of-options", commit,
                   prefix.strip() or ".", binary=True)
    if archive is None:
        raise PortfolioError(f"template commit {commit[:12]}: not in the kit's repository "
                             f"({top.strip()}); fetch its history first")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / prefix.strip()


def render(template: Path, answers: dict, output: Path) -> Path:
    """The files the template makes from these answers. Hooks do not run: an old template's
    hooks would run against today's kit; its post-generation step is done here instead."""
    from cookiecutter.main import cookiecutter

    from .scaffold import select_notebooks

    project = Path(cookiecutter(str(template), no_input=True, extra_context=answers,
                                output_dir=str(output), accept_hooks=False))
    select_notebooks(project, answers["problem_type"])
    return project


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() not in NOT_MERGED}


def merge_text(base: bytes, ours: bytes, theirs: bytes) -> tuple[bytes, int]:
    """Three-way merge of text; returns the result and the number of conflicts."""
    from merge3 import Merge3

    merge = Merge3(base.decode().splitlines(True), ours.decode().splitlines(True),
                   theirs.decode().splitlines(True))
    lines = list(merge.merge_lines(name_a="your version", name_b="template",
                                   start_marker="<<<<<<<", mid_marker="=======",
                                   end_marker=">>>>>>>"))
    conflicts = sum(1 for group in merge.merge_groups() if group[0] == "conflict")
    return "".join(lines).encode(), conflicts


def merge_notebook(base: bytes, ours: bytes, theirs: bytes) -> tuple[bytes, list[int]]:
    """Three-way merge of notebooks cell by cell; returns the notebook (valid JSON, conflict
    markers inside the conflicting cells' sources) and the 1-based numbers of those cells."""
    import logging

    import nbformat
    from nbdime.merging import merge_notebooks

    read = [nbformat.reads(data.decode(), as_version=4) for data in (base, ours, theirs)]
    logging.getLogger("nbdime").setLevel(logging.ERROR)
    merged, decisions = merge_notebooks(*read)
    cells = sorted({d.common_path[1] + 1 if len(d.common_path) > 1 else 0
                    for d in decisions if d.conflict and d.common_path[:1] == ("cells",)})
    if any(d.conflict for d in decisions if d.common_path[:1] != ("cells",)):
        cells = cells or [0]
    return nbformat.writes(merged).encode() + b"\n", cells


def plan(base: dict[str, bytes], theirs: dict[str, bytes],
         ours: dict[str, bytes]) -> tuple[list[Change], dict[str, bytes | None]]:
    """What the update does to each file: the changes, and the new contents (None: delete)."""
    changes: list[Change] = []
    writes: dict[str, bytes | None] = {}
    for path in sorted(set(base) | set(theirs)):
        old, new, mine = base.get(path), theirs.get(path), ours.get(path)
        if old == new or mine == new:
            continue
        if new is None:  # the template removed it
            if mine == old:
                changes.append(Change(path, "removed"))
                writes[path] = None
            elif mine is not None:
                changes.append(Change(path, "kept", "removed from the template, changed here"))
            continue
        if mine is None or mine == old:
            changes.append(Change(path, "added" if mine is None else "updated"))
            writes[path] = new
            continue
        if path.endswith(".ipynb"):
            merged, cells = merge_notebook(old or b'{"cells": [], "metadata": {}, "nbformat": 4, '
                                           b'"nbformat_minor": 5}', mine, new)
            detail = ", ".join(f"cell {c}" if c else "metadata" for c in cells)
        else:
            merged, count = merge_text(old or b"", mine, new)
            detail = f"{count} conflicting part(s)" if count else ""
        conflict = bool(detail)
        changes.append(Change(path, "conflict" if conflict else "merged",
                              f"{detail}; conflict markers left in the file" if conflict else ""))
        writes[path] = merged
    return changes, writes


def update_project(project: Project, template: Path, display: str,
                   dry_run: bool = False) -> list[Change]:
    """Merge the template's changes since the project's recorded version into the project."""
    from .config import load_project
    from .scaffold import template_context

    answers = template_context(load_project(project.dir, f"{display}/project.yml"))
    record = read_record(project, display)
    current = template_version(template)
    if current["commit"] == record["commit"]:
        return []
    with tempfile.TemporaryDirectory(prefix="portfolio-update-") as tmp:
        tmp_path = Path(tmp)
        old_template = template_at(template, record["commit"], tmp_path / "old-template")
        base = _files(render(old_template, answers, tmp_path / "base"))
        theirs = _files(render(template, answers, tmp_path / "theirs"))
    ours = _files(project.dir)
    changes, writes = plan(base, theirs, {p: ours[p] for p in set(base) | set(theirs) if p in ours})
    if dry_run:
        return changes
    for path, content in writes.items():
        target = project.dir / path
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".update")
        partial.write_bytes(content)
        partial.replace(target)
    (project.dir / RECORD).write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    return changes


def update_projects(portfolio, slugs: list[str], dry_run: bool, echo) -> None:
    """Update the chosen projects (all by default), a line per changed file; one error at
    the end for files left in conflict and projects that could not be updated."""
    from .scaffold import template_dir

    template = template_dir()
    known = {p.slug: p for p in portfolio.projects()}
    for slug in slugs:
        if slug not in known:
            raise PortfolioError(f"{slug}: no such project in {portfolio.rel(portfolio.projects_dir)}")
    conflicts = failed = 0
    for project in [known[s] for s in slugs] if slugs else list(known.values()):
        try:
            changes = update_project(project, template, portfolio.rel(project.dir), dry_run)
        except PortfolioError as exc:
            echo(f"Error: {exc.message}")
            failed += 1
            continue
        if not changes:
            echo(f"{project.slug}: up to date with the template")
        for change in changes:
            echo(change.line(project.slug, dry_run))
            conflicts += change.action == "conflict"
    problems = []
    if conflicts:
        problems.append(f"{conflicts} file(s) in conflict: resolve the conflict markers, "
                        "then run 'portfolio run'")
    if failed:
        problems.append(f"{failed} project(s) not updated")
    if problems:
        raise PortfolioError("; ".join(problems))
