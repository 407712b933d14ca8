"""site_builder.site.mkbuild against MkDocs' own build: the same site, byte for byte, whether
pages are rendered in worker processes or taken from the previous build."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort

from site_builder.site import mkbuild

from .conftest import tree

CONFIG = """\
site_name: Pages
use_directory_urls: true
theme:
  name: material
  font: false
plugins:
  - search
nav:
  - Home: index.md
  - Projects: projects.md
"""


@pytest.fixture(autouse=True)
def reproducible(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def make_docs(root: Path, projects: int = 12, broken: str | None = None) -> Path:
    docs = root / "docs"
    (docs / "projects").mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n\nSee the [projects](projects.md).\n")
    (docs / "projects.md").write_text("# Projects\n\n" + "".join(
        f"- [Project {i}](projects/p{i}/index.md)\n" for i in range(projects)))
    for i in range(projects):
        folder = docs / "projects" / f"p{i}"
        folder.mkdir()
        (folder / "index.md").write_text(
            f"# Project {i}\n\nIts [notes](notes.md), [home](../../index.md).\n\n"
            f"## Result\n\nAccuracy 0.{i:03d}.\n")
        (folder / "notes.md").write_text(f"# Notes {i}\n\nWords about project {i}.\n")
    if broken:
        (docs / "projects" / broken / "notes.md").write_text("# Notes\n\n[gone](missing.md)\n")
    (root / "mkdocs.yml").write_text(CONFIG)
    return docs


def config(root: Path, site: str, strict: bool = True, text: str | None = None):
    if text is not None:
        (root / "mkdocs.yml").write_text(text)
    return load_config(str(root / "mkdocs.yml"), docs_dir=str(root / "docs"),
                       site_dir=str(root / site), strict=strict)


def test_pages_built_in_workers_and_reused_are_what_mkdocs_writes(tmp_path, monkeypatch):
    docs = make_docs(tmp_path)
    mkdocs_build(config(tmp_path, "reference"))
    monkeypatch.setattr(mkbuild, "PARALLEL_FROM", 2)
    monkeypatch.setattr(mkbuild, "cores", lambda: 2)
    records = mkbuild.build(config(tmp_path, "site"), {}, None, "kit")
    assert tree(tmp_path / "site") == tree(tmp_path / "reference")
    assert sorted(records) == sorted(str(p.relative_to(docs)) for p in docs.rglob("*.md"))

    # One page changes: only it is rendered again, the others are the previous files.
    (docs / "projects/p3/notes.md").write_text("# Notes 3\n\nOther words.\n")
    mkdocs_build(config(tmp_path, "reference"))
    before = {p: p.stat().st_ino for p in (tmp_path / "site").rglob("index.html")}
    again = mkbuild.build(config(tmp_path, "next"), records, tmp_path / "site", "kit")
    assert tree(tmp_path / "next") == tree(tmp_path / "reference")
    changed = {str(p.relative_to(tmp_path / "site")) for p, ino in before.items()
               if (tmp_path / "next" / p.relative_to(tmp_path / "site")).stat().st_ino != ino}
    assert changed == {"projects/p3/notes/index.html"}
    assert again["projects/p3/notes.md"].key != records["projects/p3/notes.md"].key
    assert again["projects/p2/notes.md"] == records["projects/p2/notes.md"]
    index = json.loads((tmp_path / "next/search/search_index.json").read_text())
    assert [d["location"] for d in index["docs"]].count("projects/p3/notes/") == 1

    # A new kit (or mkdocs.yml) renders every page again.
    before = {p: p.stat().st_ino for p in (tmp_path / "next").rglob("index.html")}
    mkbuild.build(config(tmp_path, "third"), again, tmp_path / "next", "another kit")
    assert tree(tmp_path / "third") == tree(tmp_path / "reference")
    assert all((tmp_path / "third" / p.relative_to(tmp_path / "next")).stat().st_ino != ino
               for p, ino in before.items())


@pytest.mark.parametrize("parallel_from", [2, 10**6])
def test_a_warning_in_any_page_fails_a_strict_build(tmp_path, monkeypatch, caplog, parallel_from):
    make_docs(tmp_path, broken="p7")
    monkeypatch.setattr(mkbuild, "PARALLEL_FROM", parallel_from)
    monkeypatch.setattr(mkbuild, "cores", lambda: 2)
    with caplog.at_level(logging.WARNING, logger="mkdocs"), pytest.raises(Abort) as raised:
        mkbuild.build(config(tmp_path, "site"), {}, None, "kit")
    assert str(raised.value) == "Aborted with 1 warnings in strict mode!"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "Doc file 'projects/p7/notes.md' contains a link 'missing.md', but the target "
        "'projects/p7/missing.md' is not found among documentation files."]
    caplog.clear()
    assert mkbuild.build(config(tmp_path, "lenient", strict=False), {}, None, "kit")
    assert (tmp_path / "lenient/projects/p7/notes/index.html").is_file()


def test_a_configuration_with_other_plugins_is_built_by_mkdocs_itself(tmp_path, monkeypatch):
    make_docs(tmp_path, projects=3)
    calls = []
    monkeypatch.setattr(mkbuild.mkdocs_build, "build",
                        lambda cfg: calls.append(cfg) or mkdocs_build(cfg))
    text = CONFIG.replace("  - search\n", "  - search\n  - tags\n")
    assert mkbuild.build(config(tmp_path, "site", text=text), {}, None, "kit") is None
    assert len(calls) == 1 and (tmp_path / "site/projects/p2/notes/index.html").is_file()


@pytest.mark.parametrize("version", ["1.5.3", "1.7.0", "2.0.0"])
def test_an_untested_mkdocs_version_is_built_by_mkdocs_itself(tmp_path, monkeypatch, version):
    import mkdocs

    make_docs(tmp_path, projects=3)
    mkdocs_build(config(tmp_path, "reference"))
    assert mkdocs.__version__ in mkbuild.TESTED  # the installed one is what the tests above cover
    calls = []
    monkeypatch.setattr(mkbuild, "MKDOCS_VERSION", version)
    monkeypatch.setattr(mkbuild.mkdocs_build, "build",
                        lambda cfg: calls.append(cfg) or mkdocs_build(cfg))
    assert mkbuild.build(config(tmp_path, "site"), {}, None, "kit") is None
    assert len(calls) == 1
    assert tree(tmp_path / "site") == tree(tmp_path / "reference")
