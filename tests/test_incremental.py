"""Incremental builds: a build reuses what did not change and still writes the same site, byte
for byte, as a clean build; a build with nothing changed does no work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from site_builder.errors import PortfolioError
from site_builder.site import build

from .conftest import cli, make_portfolio, tree
from .tiny import fake_export, make_tiny


@pytest.fixture(autouse=True)
def reproducible(monkeypatch):
    # MkDocs dates the sitemap (sitemap.xml, and the gzip header of sitemap.xml.gz) with the
    # build's day; a fixed SOURCE_DATE_EPOCH makes every file of two builds comparable.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


@pytest.fixture
def rendered(monkeypatch) -> list[str]:
    """The slugs of the projects whose notebooks a build renders (not reused)."""
    slugs: list[str] = []
    original = build.render_project

    def spy(writer, view, repository):
        slugs.append(view.slug)
        return original(writer, view, repository)

    monkeypatch.setattr(build, "render_project", spy)
    return slugs


@pytest.fixture
def root(tmp_path) -> Path:
    root = make_portfolio(tmp_path / "folio")
    for slug in ("alpha", "beta", "gamma"):
        fake_export(make_tiny(root, slug))
    return root


def clean_build(root: Path, where: Path) -> dict[str, bytes]:
    """The same portfolio built from nothing, in another folder."""
    copy = where / "clean"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("build", "site", ".portfolio"))
    result = cli(copy, "build")
    assert result.exit_code == 0, result.output
    return tree(copy / "site")


def assert_same_as_clean(root: Path, tmp_path: Path) -> None:
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    assert "up to date" not in result.output
    incremental, clean = tree(root / "site"), clean_build(root, tmp_path)
    assert sorted(incremental) == sorted(clean)
    different = [name for name in clean if incremental[name] != clean[name]]
    assert not different


def add_output(notebook: Path, text: str) -> None:
    data = json.loads(notebook.read_text())
    data["cells"][3]["outputs"].append({"output_type": "stream", "name": "stdout", "text": text})
    notebook.write_text(json.dumps(data))


def inode(path: Path) -> int:
    return path.stat().st_ino


# MkDocs renders the changed pages in worker processes from this many on (2: always; a
# million: never), and links the others from the previous site.
@pytest.mark.parametrize("parallel_from", [2, 10**6])
def test_adding_changing_and_removing_projects_builds_what_a_clean_build_does(
        root, tmp_path, rendered, monkeypatch, parallel_from):
    from site_builder.site import mkbuild

    monkeypatch.setattr(mkbuild, "PARALLEL_FROM", parallel_from)
    assert cli(root, "build").exit_code == 0
    assert sorted(rendered) == ["alpha", "beta", "gamma"]
    alpha_page = inode(root / "site/projects/alpha/03_evaluate_algorithms/index.html")

    rendered.clear()
    fake_export(make_tiny(root, "delta"))
    assert_same_as_clean(root, tmp_path)
    assert rendered[:1] == ["delta"]  # then the clean build's four

    rendered.clear()
    shutil.rmtree(root / "portfolio/projects/beta/export")
    fake_export(root / "portfolio/projects/beta", score=0.9)
    add_output(root / "portfolio/projects/gamma/export/notebooks/03_evaluate_algorithms.ipynb",
               "a new line of output\n")
    assert_same_as_clean(root, tmp_path)
    assert sorted(rendered[:2]) == ["beta", "gamma"]
    assert "0.900" in (root / "site/index.html").read_text()
    # An unchanged page is the previous build's file; a changed one is written anew.
    assert inode(root / "site/projects/alpha/03_evaluate_algorithms/index.html") == alpha_page
    gamma = root / "site/projects/gamma/03_evaluate_algorithms/index.html"
    assert "a new line of output" in gamma.read_text()

    rendered.clear()
    config = root / "portfolio/projects/gamma/project.yml"
    config.write_text(config.read_text().replace("title: Gamma", "title: Gamma ray"))
    assert_same_as_clean(root, tmp_path)
    assert rendered[:1] == ["gamma"]
    assert "Gamma ray" in (root / "site/leaderboard/index.html").read_text()

    rendered.clear()
    shutil.rmtree(root / "portfolio/projects/alpha")
    assert_same_as_clean(root, tmp_path)
    assert len(rendered) == 3  # the clean build's: nothing rendered again incrementally
    assert not (root / "site/projects/alpha").exists()
    assert not (root / "build/docs/projects/alpha").exists()

    rendered.clear()
    profile = root / "portfolio/profile.yml"
    profile.write_text(profile.read_text().replace("test-person/portfolio", "someone/else"))
    assert_same_as_clean(root, tmp_path)
    assert sorted(rendered[:3]) == ["beta", "delta", "gamma"]  # the repository is in each page
    assert "someone/else" in (root / "site/projects/beta/index.html").read_text()


def test_a_build_with_nothing_changed_does_no_work(root, monkeypatch, rendered):
    assert cli(root, "build").exit_code == 0
    before = tree(root / "site")
    calls = []
    monkeypatch.setattr(build, "render", lambda *args: calls.append(args))
    monkeypatch.setattr(build, "generate", lambda *args: calls.append(args))
    rendered.clear()
    result = cli(root, "build")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "site is up to date"
    assert calls == [] and rendered == []
    # A file rewritten with the same content is still the same input.
    metrics = root / "portfolio/projects/beta/export/metrics.json"
    metrics.write_bytes(metrics.read_bytes())
    assert cli(root, "build").output.startswith("site is up to date\n")
    assert calls == [] and tree(root / "site") == before


@pytest.mark.parametrize("change", ["mkdocs.yml", "profile", "figure", "no-strict", "site"])
def test_any_changed_input_builds_again(root, monkeypatch, change):
    assert cli(root, "build").exit_code == 0
    calls = []

    def render(portfolio, docs, site, strict, previous=None):
        calls.append(site)
        site.mkdir()
        (site / "index.html").write_text("rendered")

    monkeypatch.setattr(build, "render", render)
    args = ["build"]
    if change == "mkdocs.yml":
        (root / "mkdocs.yml").write_text((root / "mkdocs.yml").read_text() + "\n# a comment\n")
    elif change == "profile":
        (root / "portfolio/photo.txt").write_text("a new file next to profile.yml")
    elif change == "figure":
        from PIL import Image

        Image.new("RGB", (8, 8), "red").save(
            root / "portfolio/projects/alpha/export/figures/05_present_results-1.png")
    elif change == "no-strict":
        args.append("--no-strict")
    else:
        shutil.rmtree(root / "site")
        (root / "site").mkdir()
        (root / "site/index.html").write_text("made by something else")
    result = cli(root, *args)
    assert "up to date" not in result.output
    assert len(calls) == 1


def test_a_failed_build_is_never_reused(root, monkeypatch, tmp_path, rendered):
    assert cli(root, "build").exit_code == 0
    before = tree(root / "site")
    beta = root / "portfolio/projects/beta/export/notebooks/03_evaluate_algorithms.ipynb"
    add_output(beta, "changed\n")

    def fail(*args):
        raise PortfolioError("mkdocs: a warning in strict mode (1 warning(s))")

    monkeypatch.setattr(build, "render", fail)
    result = cli(root, "build")
    assert result.exit_code == 1 and result.output.startswith("Error: mkdocs: a warning")
    assert tree(root / "site") == before
    assert not (root / "build" / build.STATE_FILE).exists()
    monkeypatch.undo()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setattr(build, "render_project", _counting(rendered))
    rendered.clear()
    assert_same_as_clean(root, tmp_path)
    assert sorted(rendered[:3]) == ["alpha", "beta", "gamma"]  # nothing of the failed build


def _counting(slugs: list[str]):
    original = build.render_project

    def spy(writer, view, repository):
        slugs.append(view.slug)
        return original(writer, view, repository)

    return spy


def test_a_build_with_an_invalid_project_fails_whole_and_keeps_the_previous_state(
        root, tmp_path, rendered):
    assert cli(root, "build").exit_code == 0
    before = {name: tree(root / name) for name in ("site", "build")}
    config = root / "portfolio/projects/beta/project.yml"
    good = config.read_text()
    config.write_text(good.replace("direction: maximize", "direction: upwards"))
    rendered.clear()
    for _ in range(2):  # and a second time: never up to date
        result = cli(root, "build")
        assert result.exit_code == 1
        assert result.output == (
            "Error: portfolio/projects/beta/project.yml: field 'metric.direction': Input should "
            "be 'maximize' or 'minimize'; the site was left as it was\n")
        assert {name: tree(root / name) for name in ("site", "build")} == before
        assert rendered == []
    # The previous build's state is still good: with the project fixed, nothing is rendered.
    config.write_text(good)
    assert cli(root, "build").output == "site is up to date\n"


def test_a_reused_project_whose_sources_were_tampered_with_is_rendered_again(
        root, tmp_path, rendered):
    assert cli(root, "build").exit_code == 0
    (root / "build/docs/projects/alpha/index.md").write_text("tampered")
    (root / "portfolio/projects/beta/export/metrics.json").write_text(
        (root / "portfolio/projects/beta/export/metrics.json").read_text().replace("0.75", "0.8"))
    rendered.clear()
    assert_same_as_clean(root, tmp_path)
    assert sorted(rendered[:2]) == ["alpha", "beta"]
