"""MkDocs over the generated sources, rendering only the pages that changed, on every core.

`mkdocs build` renders every page of a site, one after the other, each time. This runs the
same steps of MkDocs (its configuration, files, navigation, theme and plugin events, in its
order) with two differences:

- A page is not rendered again when its Markdown and everything every page depends on
  (mkdocs.yml, the theme and its overrides, the libraries, the site-wide pages' names, the
  names of the pages beside it) are unchanged since the previous successful build: its HTML
  is hard-linked from that build's site and its search entries are taken from the record
  the build kept. A page's HTML depends on nothing else, as long as the navigation lists
  site-wide pages only (projects are listed on index pages).
- The pages to render are rendered by worker processes (forked once everything is set up),
  and their search entries merged in page order, so the search index is the one a single
  process would write.

It does so only for a configuration whose every plugin it knows (Material's search) and
whose anchor validation is below warning level, with a MkDocs version whose private build
steps tests/test_mkbuild.py compares byte for byte with MkDocs' own build (TESTED); any
other configuration or version is built by MkDocs' own `build()`, page by page as usual.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from mkdocs import __version__ as MKDOCS_VERSION
from mkdocs import utils
from mkdocs.commands import build as mkdocs_build
from mkdocs.exceptions import Abort, BuildError
from mkdocs.structure.files import InclusionLevel, get_files, set_exclusions
from mkdocs.structure.nav import get_navigation
from mkdocs.structure.pages import Page
from packaging.specifiers import SpecifierSet

from ..records import PageBuild
from .workers import cores, fork_map

log = logging.getLogger("mkdocs.site_builder")
# Rendering in worker processes pays off from this many pages on.
PARALLEL_FROM = 24
# What a page of the site may link to without being rendered again: pages under this folder
# are a project's own; every other page is site-wide.
PROJECTS = "projects/"
# The MkDocs releases whose private build steps this module calls, as tests/test_mkbuild.py
# checks them: another release may change them in any way.
TESTED = SpecifierSet(">=1.6.0,<1.7")


def _search_plugin(config):
    """Material's search plugin where it is the only plugin; None where the configuration is
    not one this module knows (it is then built by MkDocs as is)."""
    plugins = list(config.plugins.items())
    if len(plugins) != 1:
        return None
    plugin = plugins[0][1]
    kind = type(plugin)
    if (kind.__module__, kind.__name__) != ("material.plugins.search.plugin", "SearchPlugin"):
        return None
    return plugin


def _group(uri: str) -> str:
    """The folder whose pages a page may link to by name: its project's, or the site's."""
    if uri.startswith(PROJECTS):
        return "/".join(uri.split("/", 2)[:2])
    return ""


class Pages:
    """The previous successful build's pages (their keys and search entries), where its site
    is still in place, and the records of this build."""

    def __init__(self, previous: dict[str, PageBuild], old_site: Path | None, common: str):
        self.previous = previous if old_site else {}
        self.old_site = old_site
        self.common = common
        self.records: dict[str, PageBuild] = {}

    def key(self, file, siblings: list[str]) -> str:
        digest = hashlib.sha256(self.common.encode())
        digest.update(json.dumps(siblings).encode())
        with open(file.abs_src_path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
        return digest.hexdigest()

    def reusable(self, file, key: str) -> list | None:
        """The page's search entries where its HTML from the previous build can be used."""
        old = self.previous.get(file.src_uri)
        if old and old.key == key and self.old_site is not None \
                and (self.old_site / file.dest_uri).is_file():
            return old.entries
        return None


def _link(source: Path, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.unlink(target)  # a static file of the same name, written first, loses to the page
    except FileNotFoundError:
        pass
    try:
        os.link(source, target)
    except OSError:
        utils.copy_file(str(source), target)


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


_STATE: tuple = ()


def _render(indices: list[int]) -> tuple[list[tuple[int, list]], list[str]]:
    """Renders the pages of _STATE's list at indices: their search entries, and warnings."""
    config, files, doc_files, nav, env, pages, populated, search = _STATE
    handler = _Warnings()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    entries = search.search_index.entries
    done = []
    try:
        for index in indices:
            page = pages[index]
            if page.file.src_uri not in populated:
                mkdocs_build._populate_page(page, config, files)
            start = len(entries)
            mkdocs_build._build_page(page, config, doc_files, nav, env,
                                     excluded=page.file.inclusion.is_excluded())
            done.append((index, entries[start:]))
            del entries[start:]
    finally:
        logger.removeHandler(handler)
    return done, handler.messages


def _render_all(pages: list, workers: int) -> tuple[dict[int, list], list[str]]:
    indices = list(range(len(pages)))
    chunks = [indices[i::workers * 4] for i in range(workers * 4)]
    results = fork_map(_render, chunks, workers if len(pages) >= PARALLEL_FROM else 1)
    if results is None:
        done, _ = _render(indices)
        return dict(done), []  # the warnings went to the logger as they happened
    found: dict[int, list] = {}
    warnings: list[str] = []
    for done, messages in results:
        found.update(done)
        warnings += messages
    return found, warnings


def build(config, previous: dict[str, PageBuild], old_site: Path | None,
          common: str) -> dict[str, PageBuild] | None:
    """Builds config's site in config.site_dir; returns the records of its pages for the next
    build, or None where the configuration was built by MkDocs' own build()."""
    global _STATE
    search = _search_plugin(config)
    if search is None or config.validation.links.anchors >= logging.WARNING \
            or MKDOCS_VERSION not in TESTED:
        mkdocs_build.build(config)
        return None
    counter = utils.CountHandler()
    counter.setLevel(logging.WARNING)
    logger = logging.getLogger("mkdocs")
    if config.strict:
        logger.addHandler(counter)
    inclusion = InclusionLevel.is_included
    try:
        config = config.plugins.on_config(config)
        config.plugins.on_pre_build(config=config)
        utils.clean_directory(config.site_dir)
        files = get_files(config)
        env = config.theme.get_env()
        files.add_files_from_theme(env, config)
        files = config.plugins.on_files(files, config=config)
        set_exclusions(files, config)
        nav = get_navigation(files, config)
        nav = config.plugins.on_nav(nav, config=config, files=files)
        doc_files = files.documentation_pages(inclusion=inclusion)
        for file in doc_files:
            if file.page is None:
                Page(None, file, config)
        site_wide = sorted(f.src_uri for f in doc_files if not _group(f.src_uri))
        known = Pages(previous, old_site, json.dumps([common, site_wide]))
        groups: dict[str, list[str]] = {}
        for file in doc_files:
            groups.setdefault(_group(file.src_uri), []).append(file.src_uri)
        # The pages in the navigation are read here: every page shows their titles.
        populated = set()
        for page in nav.pages:
            mkdocs_build._populate_page(page, config, files)
            populated.add(page.file.src_uri)
        env = config.plugins.on_env(env, config=config, files=files)
        files.copy_static_files(inclusion=inclusion)
        for template in config.theme.static_templates:
            mkdocs_build._build_theme_template(template, env, files, config, nav)
        for template in config.extra_templates:
            mkdocs_build._build_extra_template(template, files, config, nav)

        entries: dict[str, list] = {}
        keys: dict[str, str] = {}
        todo = []
        for file in doc_files:
            key = known.key(file, groups[_group(file.src_uri)])
            old = known.reusable(file, key)
            if old is None:
                todo.append(file.page)
            else:
                _link(old_site / file.dest_uri, file.abs_dest_path)
                entries[file.src_uri] = old
            keys[file.src_uri] = key
        _STATE = (config, files, doc_files, nav, env, todo, populated, search)
        try:
            found, warnings = _render_all(todo, cores())
        finally:
            _STATE = ()
        for message in warnings:
            log.warning(message)
        for index, page in enumerate(todo):
            entries[page.file.src_uri] = found[index]
        search.search_index.entries = [entry for file in doc_files
                                       for entry in entries[file.src_uri]]
        for file in doc_files:
            known.records[file.src_uri] = PageBuild(key=keys[file.src_uri],
                                                    entries=entries[file.src_uri])
        config.plugins.on_post_build(config=config)
        if counts := counter.get_counts():
            raise Abort("Aborted with " + ", ".join(f"{v} {k.lower()}s" for k, v in counts)
                        + " in strict mode!")
    except Exception as exc:
        config.plugins.on_build_error(error=exc)
        if isinstance(exc, BuildError):
            log.error(str(exc))
            raise Abort("Aborted with a BuildError!") from None
        raise
    finally:
        logger.removeHandler(counter)
    return known.records
