"""`portfolio init DIR`: a new portfolio repository for someone who installed the kit.

The GitHub Actions workflow it writes installs the kit from where this one was installed
(PEP 610's direct_url.json): the same git commit, the same archive, or the same version from
the package index. A kit installed from a folder on this machine is installed in CI from that
folder's git remote, at the commit checked out, when it has one GitHub can reach; otherwise
the install step is left failing with a message saying what to put there.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import PortfolioError
from .gitcall import git_output

DISTRIBUTION = "dl-portfolio-kit"
FILES = Path(__file__).resolve().parent / "init_files"
WORKFLOW = ".github/workflows/pages.yml"
LAYOUT = {
    "mkdocs.yml": "mkdocs.yml",
    "profile.yml": "portfolio/profile.yml",
    "gitignore": ".gitignore",
    "README.md": "README.md",
    "pages.yml": WORKFLOW,
}
# The value of the workflow's install step in init_files/pages.yml.
INSTALL_MARKER = "__KIT_INSTALL__"
UNREACHABLE = (f"echo 'portfolio init could not tell where CI can install the kit from: put its "
               f"pip install command here, in {WORKFLOW}' >&2; exit 1")


@dataclass(frozen=True)
class KitSource:
    """How CI installs the kit (a shell command), and a line for the user where it matters."""

    command: str
    note: str | None = None


def _requirement(spec: str, note: str | None = None) -> KitSource:
    return KitSource(f"pip install {shlex.quote(spec)}", note)


def _reachable(url: str) -> str | None:
    """The https address of a git remote that a CI runner can clone, if it is one."""
    if url.startswith("git@github.com:"):
        url = "https://github.com/" + url.removeprefix("git@github.com:")
    return url if url.startswith("https://") else None


def _clone_origin(folder: Path) -> tuple[str, str] | None:
    """(origin's https address, the commit checked out) of a git clone, if it is one."""

    def git(*args: str) -> str | None:
        out = git_output(folder, *args)
        return out.strip() if out is not None else None

    url = _reachable(git("remote", "get-url", "origin") or "")
    commit = git("rev-parse", "HEAD")
    return (url, commit) if url and commit else None


def kit_source(direct_url: str | None, version: str, from_index: bool) -> KitSource:
    """Where CI installs the kit from, given the installed distribution's direct_url.json
    (None when there is none) and whether pip installed it from a package index."""
    if direct_url is None:
        if from_index:
            return _requirement(f"{DISTRIBUTION}=={version}")
        return KitSource(UNREACHABLE, "Warning: cannot tell where the kit was installed from; "
                                      f"CI cannot install it until you edit the install step of {WORKFLOW}")
    try:
        info = json.loads(direct_url)
        url = info["url"]
    except (ValueError, KeyError, TypeError):
        return kit_source(None, version, False)
    subdirectory = f"#subdirectory={info['subdirectory']}" if info.get("subdirectory") else ""
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("commit_id"):
        return _requirement(f"{DISTRIBUTION} @ {vcs.get('vcs', 'git')}+{url}@{vcs['commit_id']}"
                            f"{subdirectory}")
    if not url.startswith("file:"):
        return _requirement(f"{DISTRIBUTION} @ {url}{subdirectory}")
    folder = Path(unquote(urlsplit(url).path))
    origin = _clone_origin(folder) if folder.is_dir() else None
    if origin:
        remote, commit = origin
        return _requirement(
            f"{DISTRIBUTION} @ git+{remote}@{commit}{subdirectory}",
            f"Note: the kit is installed from the folder {folder}: the workflow installs its "
            f"commit {commit[:12]} from {remote}, so push that commit there")
    return KitSource(UNREACHABLE, f"Warning: the kit is installed from the folder {folder}, which "
                                  f"CI cannot reach; edit the install step of {WORKFLOW}")


def installed_kit_source() -> KitSource:
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return kit_source(None, "", False)
    # pip records a RECORD for every install and a direct_url.json for every install that
    # did not come from an index.
    return kit_source(dist.read_text("direct_url.json"), dist.version,
                      dist.read_text("RECORD") is not None)


def workflow(source: KitSource) -> str:
    text = (FILES / "pages.yml").read_text(encoding="utf-8")
    # A JSON string is a YAML double-quoted scalar: the command is written escaped.
    return text.replace(INSTALL_MARKER, json.dumps(source.command))


def first_commit(target: Path) -> str:
    """Make target a git repository with the new files as its first commit; the line to
    show either way."""
    if shutil.which("git") is None:
        return "Note: git is not installed, so this is no git repository yet; publishing needs one"

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=target, capture_output=True, text=True)

    inside = git("rev-parse", "--show-toplevel")
    if inside.returncode == 0:
        return (f"Note: {target} is inside the git repository {inside.stdout.strip()}; "
                "commit the new files there")
    git("init", "-q", "-b", "main")
    git("add", "-A")
    done = git("commit", "-q", "-m", "A new portfolio, made by portfolio init")
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["git commit failed"]
        return (f"Note: made a git repository without a first commit ({lines[-1]}); set your "
                "name and email with 'git config --global user.name \"Your Name\"' and "
                "'git config --global user.email you@example.com', then 'git commit'")
    return ("made a git repository (branch main) with a first commit; add your GitHub "
            "repository with 'git remote add origin URL' and push")


def initialize(target: Path, source: KitSource) -> tuple[list[str], str]:
    """Write the files of an empty portfolio into target, refusing to overwrite any, and
    commit them: (the files written, the line about git)."""
    clashes = [rel for rel in LAYOUT.values() if (target / rel).exists()]
    if clashes:
        raise PortfolioError(f"{target / clashes[0]}: exists already; portfolio init writes only "
                             "into a new or empty folder")
    for name, rel in LAYOUT.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "pages.yml":
            path.write_text(workflow(source), encoding="utf-8")
        else:
            shutil.copyfile(FILES / name, path)
    (target / "portfolio" / "projects").mkdir(parents=True, exist_ok=True)
    (target / "portfolio" / "projects" / ".gitkeep").touch()
    return sorted(LAYOUT.values()), first_commit(target)
