"""What a build reads, hashed cheaply: the key of the whole build and of each project.

A file's SHA-256 is remembered with its size, modification time and inode, so a build over
unchanged files reads none of them again; a file changed within the last two seconds is
not remembered (its time stamp could still hide a second change of the same size). Only
the standard library is imported here: a build with nothing to do stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..layout import Portfolio, Project

PACKAGE = Path(__file__).resolve().parent.parent
# Distributions whose version changes what a build writes.
DISTRIBUTIONS = ("mkdocs", "mkdocs-material", "markdown", "pymdown-extensions", "pygments",
                 "nh3", "nbformat", "pillow", "jinja2")
RACY_NS = 2_000_000_000


class FileHashes:
    """SHA-256 of files, reused from the previous build where a file's stat is unchanged."""

    def __init__(self, known: dict | None = None):
        self.known: dict[str, list] = known if isinstance(known, dict) else {}
        self.seen: dict[str, list] = {}
        self._cutoff = time.time_ns() - RACY_NS

    def sha(self, path: Path) -> str | None:
        """The file's SHA-256; for a symbolic link, its target too (the build refuses one in
        an export, so replacing a file by a link to the same bytes must not look unchanged);
        a folder, a FIFO or a device is named, never opened."""
        key = str(path)
        try:
            link = os.readlink(path) if os.path.islink(path) else None
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None if link is None else f"link to {link}"
        except OSError as exc:  # a loop of links, a name too long
            return f"unreadable ({exc.errno})"
        prefix = "" if link is None else f"link to {link}: "
        if stat.S_ISDIR(st.st_mode):
            return prefix + "folder"
        if not stat.S_ISREG(st.st_mode):
            return prefix + "not a plain file"
        signature = [st.st_size, st.st_mtime_ns, st.st_ino]
        old = self.known.get(key)
        if isinstance(old, list) and len(old) == 4 and old[:3] == signature:
            digest = old[3]
        else:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if st.st_mtime_ns < self._cutoff:
            self.seen[key] = [*signature, digest]
        return prefix + digest


def _files(folder: Path, suffix: str = "") -> list[Path]:
    """Every entry directly in folder (sorted) whose name ends with suffix: the build reads
    them all (a figure is any file in export/figures/)."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(Path(e.path) for e in entries if e.name.endswith(suffix))


def _tree(folder: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and not d.startswith("__")
                             and (Path(dirpath) / d) not in skip)
        found += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".")]
    return found


def project_files(project: Project) -> list[Path]:
    """Every file of a project that the build reads."""
    export = project.export_dir
    return ([project.config_file, export / "metrics.json", export / "manifest.json"]
            + _files(export / "notebooks", ".ipynb") + _files(export / "figures")
            + [export / "model" / name for name in ("browser.json", "model.onnx")])


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


@dataclass
class Inputs:
    """The hashes of everything a build reads: the key decides whether it has work to do."""

    kit: str
    portfolio: str
    projects: dict[str, str] = field(default_factory=dict)  # folder name -> its files' hash
    strict: bool = True

    @property
    def key(self) -> str:
        return _digest({"kit": self.kit, "portfolio": self.portfolio, "strict": self.strict,
                        "projects": self.projects})

    def project_key(self, folder: str, repository: str | None) -> str:
        """What a project's generated pages depend on: its files, the kit, the repository."""
        return _digest({"kit": self.kit, "repository": repository,
                        "files": self.projects.get(folder)})


def scan(portfolio: Portfolio, strict: bool, hashes: FileHashes) -> Inputs:
    def files_hash(paths: list[Path], base: Path) -> str:
        return _digest([[os.path.relpath(p, base), hashes.sha(p)] for p in paths])

    kit = files_hash(_tree(PACKAGE, skip=(PACKAGE / "project_template",
                                         PACKAGE / "init_files")), PACKAGE)
    kit = _digest({"files": kit, "versions": _versions()})
    top = portfolio.root / "portfolio"
    own = [portfolio.mkdocs_file] + _tree(top, skip=(portfolio.projects_dir,))
    inputs = Inputs(kit=kit, portfolio=files_hash(own, portfolio.root), strict=strict)
    for project in portfolio.projects():
        inputs.projects[project.dir.name] = files_hash(project_files(project), project.dir)
    return inputs
