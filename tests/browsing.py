"""A built site served on localhost and Debian's Chromium driven by Playwright, for the tests
of the project page's "Try the model"."""

from __future__ import annotations

import contextlib
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# What "Try the model" loads, none of it before the click.
WIDGET_FILES = ("try-model.mjs", "onnxruntime-web/", "/try/")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def served(site: Path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextlib.contextmanager
def chromium():
    import pytest

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run"])
        try:
            yield browser
        finally:
            browser.close()


class ModelPage:
    """A project page opened in its own context, recording requests and errors."""

    def __init__(self, browser, url: str, viewport=DESKTOP):
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(
            f"HTTP {r.status}: {r.url}"))
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def widget_requests(self) -> list[str]:
        return [u for u in self.requests if any(part in u for part in WIDGET_FILES)]

    def open_model(self) -> None:
        """Click the button and wait for the model; a failure says what the page says."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        box = "document.querySelector('.pf-try')"
        started = (f"{box}.pfModel !== undefined || "
                   f"{box}.querySelector('.pf-try-status').textContent !== ''")
        self.page.locator(".pf-try-open").click()
        try:
            self.page.wait_for_function(started, timeout=15_000)
        except PlaywrightTimeout:  # a click before the page's script had wired the button
            self.page.locator(".pf-try-open").click()
        self.page.wait_for_function(
            f"{box}.pfModel !== undefined || {box}.querySelector('.pf-try-status')"
            ".textContent.startsWith('The model could not')", timeout=90_000)
        status = self.page.evaluate(f"{box}.querySelector('.pf-try-status').textContent")
        assert self.page.evaluate(f"{box}.pfModel !== undefined"), (status, self.errors)

    def parity(self) -> list[dict]:
        """Each example of browser.json: the output the page's model gives, and the model's."""
        return self.page.evaluate("document.querySelector('.pf-try').pfModel.parity()")

    def predicted(self) -> str:
        """The output once it is a prediction again (after a value it could not take)."""
        self.page.wait_for_function(
            "!document.querySelector('.pf-try-out').innerText.startsWith('Not predicted')")
        return self.output()

    def output(self) -> str:
        return self.page.locator(".pf-try-out").inner_text()

    def close(self) -> None:
        self.context.close()


def worst(results: list[dict]) -> float:
    """The worst difference, relative to max(1, |expected|) (browser.json's tolerance rule)."""
    return max(abs(g - e) / max(1.0, abs(e))
               for r in results for g, e in zip(r["got"], r["expected"], strict=True))
