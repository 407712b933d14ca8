"""Lighthouse scores of the built portfolio: its home page and a project page, on a phone.

Builds the repository's portfolio (mkdocs.yml and portfolio/, copied to a temporary folder so
the working tree's site/ is left alone), serves the site on localhost, and runs Lighthouse
(npm, pinned in benchmarks/package.json) with Debian's Chromium: performance, accessibility,
best practices and SEO, mobile form factor, the median of --runs runs per page. Where the
portfolio has no exported project yet, a synthetic one-project portfolio (benchmarks/synth.py)
stands in, and the table says so. Scores go to docs/benchmarks.md (between the Lighthouse
markers), with every audit that did not pass.

    cd benchmarks && npm ci && cd ..
    python benchmarks/lighthouse.py [--runs 3] [--root .]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from docs_section import write_section  # noqa: E402

LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 95, "accessibility": 100}


def build(root: Path, work: Path) -> tuple[Path, str]:
    """The portfolio built in a copy; a synthetic one stands in where nothing is exported."""
    copy = work / "folio"
    shutil.copytree(root / "portfolio", copy / "portfolio",
                    ignore=shutil.ignore_patterns(".portfolio", "prepared", "artifacts"))
    shutil.copy(root / "mkdocs.yml", copy / "mkdocs.yml")
    what = "the shipped portfolio" if root == REPO else f"the portfolio in {root}"
    if not any((p / "export").is_dir() for p in (copy / "portfolio/projects").glob("*")):
        sys.path.insert(0, str(HERE))
        import synth

        synth.make_project(copy, 0)
        what = (f"a synthetic one-project portfolio ({what} has no exported project yet), with "
                "its profile.yml and mkdocs.yml")
    done = subprocess.run([sys.executable, "-m", "site_builder", "build"], cwd=copy,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"portfolio build failed:\n{done.stdout}{done.stderr}")
    return copy / "site", what


COMPRESSED = {".html", ".css", ".js", ".mjs", ".json", ".svg", ".xml", ".txt", ".ipynb",
              ".wasm", ".onnx"}


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The site on localhost, text gzipped as GitHub Pages serves it."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_head(self):
            path = Path(self.translate_path(self.path))
            if path.is_dir():
                if not urlsplit(self.path).path.endswith("/"):
                    return super().send_head()  # its redirect to the folder
                path = path / "index.html"
            if path.suffix not in COMPRESSED or not path.is_file() \
                    or "gzip" not in self.headers.get("Accept-Encoding", ""):
                return super().send_head()
            body = gzip.compress(path.read_bytes(), compresslevel=6)
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(str(path)))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def audit(url: str, out: Path) -> dict:
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    command = [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
               "--form-factor=mobile", "--only-categories=" + ",".join(CATEGORIES),
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"lighthouse {url} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(out.read_text())


def summary(reports: list[dict]) -> dict:
    scores = {c: statistics.median(round(r["categories"][c]["score"] * 100) for r in reports)
              for c in CATEGORIES}
    last = reports[-1]
    failing = []
    for category in CATEGORIES:
        for ref in last["categories"][category]["auditRefs"]:
            result = last["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and result.get("score") is not None \
                    and result["score"] < 1:
                nodes = [item["node"].get("snippet", "") for item in
                         (result.get("details") or {}).get("items", [])[:3]
                         if isinstance(item, dict) and isinstance(item.get("node"), dict)]
                failing.append(f"{category}: {result['title']} ({result.get('displayValue', '')}"
                               f"{', ' if result.get('displayValue') else ''}"
                               f"score {result['score']:.2f})"
                               + "".join(f"; `{n[:120]}`" for n in nodes))
    lcp = last["audits"].get("largest-contentful-paint-element", {}).get("details", {})
    for item in lcp.get("items", [])[:1]:
        for row in (item.get("items") or [])[:1]:
            node = row.get("node") or {}
            failing.append(f"(information) the largest contentful paint: `{node.get('snippet', '')[:120]}`")
    for audit_id in ("mainthread-work-breakdown", "bootup-time"):
        details = last["audits"].get(audit_id, {}).get("details", {})
        parts = [f"{item.get('groupLabel') or item.get('url', '').rsplit('/', 1)[-1] or '?'} "
                 f"{item.get('duration', item.get('total', 0)):.0f} ms"
                 for item in details.get("items", [])[:4]]
        if parts:
            failing.append(f"(information) {last['audits'][audit_id]['title']}: " + ", ".join(parts))
    metrics = {key: last["audits"][key].get("displayValue", "") for key in
               ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time",
                "cumulative-layout-shift", "speed-index", "total-byte-weight")}
    return {"scores": scores, "failing": failing, "metrics": metrics,
            "lighthouse": last.get("lighthouseVersion"),
            "benchmark_index": last.get("environment", {}).get("benchmarkIndex"),
            "browser": last.get("environment", {}).get("hostUserAgent", "")}


def markdown(pages: dict[str, dict], what: str, runs: int, command: str) -> str:
    first = next(iter(pages.values()))
    browser = re.search(r"(Chrome|Chromium)/[\d.]+", first["browser"])
    out = ["## Lighthouse", "",
           f"`{command}`: Lighthouse {first['lighthouse']} (mobile form factor, simulated "
           f"throttling) with Debian's Chromium ({browser.group(0) if browser else 'unknown'}) "
           f"on {os.cpu_count()} cores (Lighthouse's benchmark index of this host: "
           f"{first['benchmark_index']}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
           f"), over {what}, served on localhost with gzip as GitHub Pages serves it; the median "
           f"of {runs} run(s) per page.", "",
           "| page | performance | accessibility | best practices | SEO | LCP | TBT | CLS | weight |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, result in pages.items():
        s, m = result["scores"], result["metrics"]
        out.append(f"| {name} | {s['performance']:.0f} | {s['accessibility']:.0f} | "
                   f"{s['best-practices']:.0f} | {s['seo']:.0f} | {m['largest-contentful-paint']} "
                   f"| {m['total-blocking-time']} | {m['cumulative-layout-shift']} "
                   f"| {m['total-byte-weight'].removeprefix('Total size was ')} |")
    out += ["", "Targets: performance ≥ 95, accessibility 100: " + "; ".join(
        f"{name} {'met' if all(r['scores'][c] >= t for c, t in TARGETS.items()) else 'MISSED'}"
        for name, r in pages.items()) + "."]
    for name, result in pages.items():
        if result["failing"]:
            out += ["", f"Audits not passed on {name}:", ""]
            out += [f"- {line}" for line in result["failing"]]
    return "\n".join(out)


def try_model_weights(site: Path, base: str) -> list[str]:
    """What each project page loads before and on the click of "Try the model" (bytes as
    received, gzip where the server compresses), measured in Chromium with Playwright."""
    from playwright.sync_api import sync_playwright

    rows = ["", "What \"Try the model\" loads, in Chromium: the page before the click, then the "
            "click (the runtime, its WebAssembly, the model and browser.json), as received with "
            "gzip:", "", "| project page | before the click | on the click | of which the model |",
            "|---|---:|---:|---:|"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])
        for folder in sorted(q for q in (site / "projects").iterdir() if (q / "try").is_dir()):
            page = browser.new_page()
            loaded: list[tuple[str, int]] = []
            page.on("requestfinished", lambda r, into=loaded: into.append(
                (r.url, r.sizes()["responseBodySize"])))
            page.goto(f"{base}projects/{folder.name}/", wait_until="networkidle")
            before = sum(size for _, size in loaded)
            count = len(loaded)
            page.click(".pf-try-open")
            page.wait_for_function("document.querySelector('.pf-try').pfModel !== undefined",
                                   timeout=120_000)
            page.wait_for_load_state("networkidle")
            clicked = loaded[count:]
            model = sum(size for url, size in clicked if url.endswith("/try/model.onnx"))
            rows.append(f"| {folder.name} | {before / 1024:.0f} KB | "
                        f"{sum(size for _, size in clicked) / 2**20:.2f} MB | {model / 1024:.0f} KB |")
            page.close()
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="the portfolio to build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE}: missing; run 'npm ci' in {HERE}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        site, what = build(args.root.resolve(), work)
        project = sorted(p.name for p in (site / "projects").iterdir() if p.is_dir())[0]
        server, base = serve(site)
        try:
            pages = {}
            for name, path in (("home", ""), (f"project page ({project})", f"projects/{project}/")):
                reports = [audit(base + path, work / f"report-{len(pages)}-{i}.json")
                           for i in range(args.runs)]
                pages[name] = summary(reports)
                print(name, pages[name]["scores"], flush=True)
            weights = try_model_weights(site, base)
        finally:
            server.shutdown()
    command = "python benchmarks/lighthouse.py" + ("" if len(sys.argv) == 1 else
                                                   " " + " ".join(sys.argv[1:]))
    section = markdown(pages, what, args.runs, command) + "\n".join(weights)
    print(section)
    if not args.no_write:
        write_section("lighthouse", section)


if __name__ == "__main__":
    main()
