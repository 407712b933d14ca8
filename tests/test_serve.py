"""`portfolio serve`: which changes rebuild the site, and the open page in a real browser
(Debian's Chromium driven by Playwright) showing an edit without a manual reload."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from site_builder.layout import Portfolio
from site_builder.serve import site_input

from .conftest import cli, make_portfolio
from .test_browser import CHROMIUM
from .tiny import fake_export, make_tiny

OLD = "A tiny project for tests."
NEW = "A summary edited while the page was open."


@pytest.mark.parametrize(("rel", "rebuilds"), [
    ("mkdocs.yml", True),
    ("portfolio/profile.yml", True),
    ("portfolio/me.jpg", True),
    ("portfolio/projects/alpha/project.yml", True),
    ("portfolio/projects/alpha/export", True),
    ("portfolio/projects/alpha/export/metrics.json", True),
    ("portfolio/projects/alpha/export/figures/loss.png", True),
    # What the site is not built from, or what building it writes.
    ("portfolio/projects/alpha/notebooks/01_define_problem.ipynb", False),
    ("portfolio/projects/alpha/data/raw/cat/0001.png", False),
    ("portfolio/projects/alpha/.portfolio/logs/run.log", False),
    ("portfolio/projects/alpha/export.new/metrics.json", False),
    ("portfolio/projects/alpha/project.yml.swp", False),
    ("portfolio/projects/project.yml", False),
    ("portfolio/notes/profile.yml", False),
    ("site/index.html", False),
    ("build/state.json", False),
    ("README.md", False),
    ("/elsewhere/mkdocs.yml", False),
])
def test_only_what_the_site_is_built_from_asks_for_a_rebuild(rel, rebuilds):
    portfolio = Portfolio(Path("/work/folio"))
    assert site_input(portfolio, str(portfolio.root / rel)) is rebuilds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_port_in_use_is_a_one_line_error(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    fake_export(make_tiny(root, "alpha"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(root, "serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == \
        f"Error: --port {port}: cannot serve on 127.0.0.1:{port} (Address already in use)"


def test_a_host_that_does_not_resolve_is_named(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    fake_export(make_tiny(root, "alpha"))
    result = cli(root, "serve", "--host", "no such host", "--port", "8765")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(
        "Error: --host no such host: cannot serve on no such host:8765 (")


def wait_for(predicate, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}")
def test_an_edit_reaches_the_open_page_and_a_broken_one_keeps_the_last_site(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    root = make_portfolio(tmp_path / "folio")
    fake_export(make_tiny(root, "alpha"))
    config = root / "portfolio/projects/alpha/project.yml"
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        # Ctrl-C as a terminal sends it: a test worker may ignore SIGINT, and a child would
        # inherit that (and never stop on it).
        server = subprocess.Popen([sys.executable, "-m", "site_builder", "serve", "--port",
                                   str(port)], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: "Serving on" in log.read_text(), "the server")
        url = f"http://127.0.0.1:{port}/projects/alpha/"
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page()
            loads = []
            page.on("load", lambda: loads.append(page.url))
            page.goto(url, wait_until="load")
            assert OLD in page.locator("article").inner_text()
            assert NEW not in page.content()
            page.evaluate("window.__before_the_edit = true")  # gone once the page reloads
            config.write_text(config.read_text().replace(OLD, NEW))
            sync_api.expect(page.locator("article")).to_contain_text(NEW, timeout=60_000)
            # Reloaded (a busy machine may see the rebuild's files land in two batches, and
            # reload twice): always the same page.
            assert page.evaluate("window.__before_the_edit") is None
            assert set(loads) == {url}
            config.write_text("title: [unclosed\n")
            wait_for(lambda: "Error:" in log.read_text(), "the rebuild's error")
            time.sleep(1)
            response = page.goto(url, wait_until="load")
            assert response is not None and response.status == 200
            assert NEW in page.locator("article").inner_text()
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    lines = log.read_text().splitlines()
    assert server.returncode == 0
    assert [line for line in lines if line.startswith("Error:")] == [
        "Error: portfolio/projects/alpha/project.yml: not valid YAML (line 2); the site was left "
        "as it was"]
    assert lines[:2] == ["built site", f"Serving on http://127.0.0.1:{port}/ (Ctrl-C stops)"]
    assert lines[-1] == "stopped"
