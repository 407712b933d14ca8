"""A failed build or run loses nothing: one line naming the file and field (or the folder a
full or read-only disk refused), site/ and build/ byte for byte as they were, no staging
folder left, and no worker process outliving a killed command."""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from site_builder import runner
from site_builder.site import build, workers

from .conftest import cli, make_portfolio, tree
from .tiny import fake_export, make_tiny

STAGING = ("build/docs.new", "build/site.new", "build/overrides.new")


@pytest.fixture(autouse=True)
def reproducible(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


@pytest.fixture
def root(tmp_path) -> Path:
    root = make_portfolio(tmp_path / "folio")
    for slug in ("alpha", "beta", "gamma"):
        fake_export(make_tiny(root, slug))
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    return root


def snapshot(root: Path) -> dict:
    return {name: tree(root / name) for name in ("site", "build")}


def assert_failed_and_unchanged(root: Path, before: dict, output: str) -> None:
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == output
    assert snapshot(root) == before
    assert not any((root / path).exists() for path in STAGING)


def _export(root: Path, slug: str = "beta") -> Path:
    return root / "portfolio/projects" / slug / "export"


def _project_yml(root: Path) -> None:
    path = root / "portfolio/projects/beta/project.yml"
    path.write_text(path.read_text().replace("seed: 1", "seed: one"))


def _truncated_metrics(root: Path) -> None:
    path = _export(root) / "metrics.json"
    path.write_bytes(path.read_bytes()[:40])


def _metrics_shape(root: Path) -> None:
    path = _export(root) / "metrics.json"
    path.write_text(path.read_text().replace('"split": "test", "model"', '"split": 1, "model"'))


def _corrupt_manifest(root: Path) -> None:
    (_export(root) / "manifest.json").write_text("{corrupt")


def _cover(root: Path) -> None:
    path = root / "portfolio/projects/beta/project.yml"
    path.write_text(path.read_text() + "cover: ../../../../../../etc/hostname\n")


def _linked_cover(root: Path) -> None:
    path = root / "portfolio/projects/beta/project.yml"
    path.write_text(path.read_text() + "cover: me.png\n")
    (_export(root) / "figures/me.png").symlink_to("/etc/hostname")


def _linked_figure(root: Path) -> None:
    (_export(root) / "figures/05_present_results-9.png").symlink_to("/etc/passwd")


def _linked_notebook(root: Path) -> None:
    path = _export(root) / "notebooks/02_prepare_data.ipynb"
    path.unlink()
    path.symlink_to("/etc/passwd")


def _missing_notebook(root: Path) -> None:
    (_export(root) / "notebooks/04_improve_results.ipynb").unlink()


def _bad_png(root: Path) -> None:
    (_export(root) / "figures/05_present_results-1.png").write_bytes(b"\x89PNG\r\n\x1a\n trunc")


def _bad_svg(root: Path) -> None:
    (_export(root) / "figures/05_present_results-2.svg").write_text("<svg><unclosed></svg>")


@pytest.mark.parametrize(("spoil", "line"), [
    (_project_yml, "portfolio/projects/beta/project.yml: field 'seed': Input should be a valid "
                   "integer, unable to parse string as an integer"),
    (_truncated_metrics, "portfolio/projects/beta/export/metrics.json: not valid JSON (Expecting "
                         "property name enclosed in double quotes: line 1 column 41 (char 40))"),
    (_metrics_shape, "portfolio/projects/beta/export/metrics.json: field 'metrics.0.split': Input "
                     "should be a valid string"),
    (_corrupt_manifest, "portfolio/projects/beta/export/manifest.json: not valid JSON (Expecting "
                        "property name enclosed in double quotes: line 1 column 2 (char 1))"),
    (_cover, "portfolio/projects/beta/project.yml: field 'cover': must be a path inside "
             "export/figures/ (relative, without '..', a drive or backslashes), not "
             "'../../../../../../etc/hostname'"),
    (_linked_cover, "portfolio/projects/beta/project.yml: field 'cover': must be a path inside "
                    "figures/, but 'me.png' leads to /etc/hostname"),
    (_linked_figure, "portfolio/projects/beta/export/figures/05_present_results-9.png: a symbolic "
                     "link (to /etc/passwd); an export holds plain files only"),
    (_linked_notebook, "portfolio/projects/beta/export/notebooks/02_prepare_data.ipynb: a symbolic "
                       "link (to /etc/passwd); an export holds plain files only"),
    (_missing_notebook, "portfolio/projects/beta/export/notebooks/04_improve_results.ipynb: "
                        "missing, but manifest.json lists it (run 'portfolio run' again)"),
])
def test_a_project_that_cannot_be_read_fails_the_build_and_changes_nothing(root, spoil, line):
    before = snapshot(root)
    spoil(root)
    assert_failed_and_unchanged(root, before, (
        f"Error: {line}; the site was left as it was\n"))


@pytest.mark.parametrize(("spoil", "line"), [
    (_bad_svg, "portfolio/projects/beta/export/figures/05_present_results-2.svg: not a "
               "well-formed SVG image"),
    (_bad_png, "portfolio/projects/beta/export/figures/05_present_results-1.png: not an image a "
               "thumbnail can be made from"),
])
def test_a_figure_that_cannot_be_used_fails_the_build(root, spoil, line):
    before = snapshot(root)
    spoil(root)
    assert_failed_and_unchanged(root, before, f"Error: {line}\n")


@pytest.mark.parametrize("parallel", [False, True])
def test_an_unreadable_exported_notebook_fails_the_build_also_in_a_worker(
        root, monkeypatch, parallel):
    from site_builder.errors import PortfolioError
    from site_builder.site import nbrender

    before = snapshot(root)
    if parallel:  # the projects are rendered by forked worker processes
        monkeypatch.setattr(build, "PARALLEL_FROM", 2)
        monkeypatch.setattr(workers, "cores", lambda: 2)
    original = nbrender.read_notebook

    def read_notebook(path, display=None):
        if "gamma" in str(path):
            raise PortfolioError(f"{path.name}: not a valid notebook (truncated)")
        return original(path, display)

    monkeypatch.setattr(nbrender, "read_notebook", read_notebook)
    # gamma's pages are rendered again: its export changed
    notebook = _export(root, "gamma") / "notebooks/01_define_problem.ipynb"
    notebook.write_text(notebook.read_text() + "\n")
    assert_failed_and_unchanged(root, before, "Error: 01_define_problem.ipynb: not a valid "
                                              "notebook (truncated)\n")


def test_svg_figures_and_outputs_are_cleaned_once_in_the_writer(root):
    figure = _export(root) / "figures/05_present_results-2.svg"
    figure.write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)'
                      '</script><rect width="4" height="4"/></svg>')
    assert cli(root, "build").exit_code == 0
    site = (root / "site/projects/beta/figures/05_present_results-2.svg").read_text()
    assert "script" not in site and "onload" not in site and "<rect" in site
    assert (root / "build/docs/projects/beta/figures/05_present_results-2.svg").read_text() == site


def _no_space(*args, **kwargs):
    # A write to an open file: the error names no file.
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_writing_pages_is_one_line(root, monkeypatch):
    before = snapshot(root)
    notebook = _export(root) / "notebooks/02_prepare_data.ipynb"
    notebook.write_text(notebook.read_text() + "\n")
    monkeypatch.setattr(build.DocsWriter, "text", _no_space)
    assert_failed_and_unchanged(root, before, "Error: build/docs.new: no space left on device\n")


def test_a_full_disk_while_rendering_the_site_is_one_line(root, monkeypatch):
    before = tree(root / "site")
    (root / "mkdocs.yml").write_text((root / "mkdocs.yml").read_text() + "\n# changed\n")
    monkeypatch.setattr(build, "prune", _no_space)
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == "Error: build/site.new: no space left on device\n"
    assert tree(root / "site") == before
    assert not any((root / path).exists() for path in STAGING)
    assert not (root / "build/state.json").exists()  # build/docs changed: never reused


def test_a_read_only_folder_is_one_line(root, monkeypatch):
    before = snapshot(root)
    (root / "mkdocs.yml").write_text((root / "mkdocs.yml").read_text() + "\n# changed\n")
    docs = root / "build/docs.new/index.md"

    def read_only(self, rel, content):
        raise OSError(errno.EROFS, "Read-only file system", str(docs))

    monkeypatch.setattr(build.DocsWriter, "text", read_only)
    before["site"] = tree(root / "site")
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == "Error: build/docs.new: read-only file system\n"
    assert snapshot(root) == before


@pytest.mark.parametrize("command", ["build", "run"])
def test_a_portfolio_that_cannot_be_written_to_is_one_line(root, monkeypatch, command):
    from site_builder import locking

    class Refused:
        def __init__(self, path):
            self.path = path

        def acquire(self, timeout):
            raise PermissionError(errno.EACCES, "Permission denied", self.path)

    monkeypatch.setattr(locking, "FileLock", Refused)
    before = snapshot(root)
    result = cli(root, command)
    assert result.exit_code == 1
    assert result.output == "Error: .portfolio/lock: permission denied\n"
    assert snapshot(root) == before


@pytest.mark.parametrize(("photo", "line"), [
    ("../../../../etc/hostname", "must be a path inside portfolio/ (relative, without '..', a "
                                 "drive or backslashes), not '../../../../etc/hostname'"),
    ("/etc/hostname", "must be a path inside portfolio/ (relative, without '..', a drive or "
                      "backslashes), not '/etc/hostname'"),
    ("linked.png", "must be a path inside portfolio/, but 'linked.png' leads to /etc/hostname"),
    ("me.png", "me.png not found next to profile.yml"),
])
def test_a_photo_outside_the_portfolio_is_one_line(root, photo, line):
    before = snapshot(root)
    profile = root / "portfolio/profile.yml"
    profile.write_text(profile.read_text() + f"photo: {photo}\n")
    (root / "portfolio/linked.png").symlink_to("/etc/hostname")
    assert_failed_and_unchanged(root, before, f"Error: portfolio/profile.yml: field 'photo': {line}\n")


@pytest.mark.parametrize(("content", "problem"), [
    ("{", "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
          "(char 1))"),
    ('{"version": 0}', "field 'version': Input should be 1"),
])
def test_a_corrupt_build_state_builds_everything_again(root, content, problem):
    (root / "build/state.json").write_text(content)
    result = cli(root, "build")
    assert result.exit_code == 0
    assert result.output == (f"build/state.json: {problem}; building everything again\n"
                             "built site\n")
    assert cli(root, "build").output == "site is up to date\n"


def test_a_full_disk_during_a_run_keeps_the_export_and_removes_the_staging(root, monkeypatch):
    project = root / "portfolio/projects/alpha"
    before = tree(project / "export")
    notebook = project / "notebooks/04_improve_results.ipynb"
    notebook.write_text(notebook.read_text().replace("depth = 3", "depth = 4"))

    class Kernel:
        def stop(self):
            pass

    monkeypatch.setattr(runner, "check_backend", lambda backend: None)
    monkeypatch.setattr(runner, "start_kernel", lambda *args: Kernel())
    monkeypatch.setattr(runner, "execute_step", _no_space)
    result = cli(root, "run", "alpha")
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "Error: alpha: .portfolio/staging: no space left on device",
        "Error: 1 of 1 project(s) failed"]
    assert tree(project / "export") == before
    assert not (project / ".portfolio/staging").exists()
    state = json.loads((project / ".portfolio/state.json").read_text())
    assert state["failed"] == {"message": "alpha: .portfolio/staging: no space left on device",
                               "step": None, "cell": None, "log": None}


KILLED_BUILD = """
import os, sys, time
from pathlib import Path
from site_builder.site import build, workers

build.PARALLEL_FROM = 2
workers.cores = lambda: 2

def render_project(writer, view, repository):
    Path(sys.argv[1], f"worker-{os.getpid()}").touch()
    time.sleep(120)

build.render_project = render_project
from site_builder.cli import main
main(["build"])
"""


def test_build_workers_die_with_a_killed_build(root, tmp_path):
    (root / "mkdocs.yml").write_text((root / "mkdocs.yml").read_text() + "\n# changed\n")
    for slug in ("alpha", "beta"):  # their pages must be rendered again
        notebook = _export(root, slug) / "notebooks/01_define_problem.ipynb"
        notebook.write_text(notebook.read_text() + "\n")
    markers = tmp_path / "markers"
    markers.mkdir()
    process = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(markers)], cwd=root)
    deadline = time.monotonic() + 60
    while len(list(markers.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 2
    process.send_signal(signal.SIGKILL)
    process.wait()
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        child.kill()
    assert alive == []


def test_a_page_that_would_run_script_fails_the_build(root):
    """The build reads every page it writes as a browser would: what slips past the escaping
    (here the owner's own mkdocs.yml, whose copyright Material writes into every page as it
    is) fails the build, so that a deploy running only 'portfolio build' cannot publish it."""
    before = snapshot(root)
    config = root / "mkdocs.yml"
    config.write_text(config.read_text() + "copyright: <img src=x onerror=alert(1)>\n")
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == (
        "Error: site/404.html: an event handler (onerror=) on <img>, it would run script in a "
        "visitor's browser; the site was left as it was\n")
    assert snapshot(root)["site"] == before["site"]
    assert not any((root / path).exists() for path in STAGING)


def test_an_invalid_mkdocs_yml_is_one_line(root):
    before = snapshot(root)
    config = root / "mkdocs.yml"
    lines = len(config.read_text().splitlines())
    config.write_text(config.read_text() + "nav: [a, b\n")
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == (
        "Error: mkdocs.yml: MkDocs encountered an error parsing the configuration file: while "
        f"parsing a flow sequence at line {lines + 1}, column 6 expected ',' or ']', but got "
        f"'<stream end>' at line {lines + 2}, column 1\n")
    assert snapshot(root)["site"] == before["site"]
