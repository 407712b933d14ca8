"""`portfolio check`: what must not reach a public portfolio, each as `FILE[:cell N]: what, why`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from . import STEPS
from .config import ProjectConfig, load_profile, load_project
from .errors import PortfolioError
from .layout import Portfolio, Project
from .placeholders import find_placeholders

ALLOWLIST = "portfolio/check-allowlist.txt"
MB = 1024 * 1024
FILE_LIMIT, FILE_WARN, SITE_LIMIT = 100 * MB, 50 * MB, 1024 * MB
# Detectors with a known shape; the entropy detectors flag ordinary code in every notebook.
_SKIPPED_PLUGINS = ("HighEntropyString", "IPPublicDetector")
KINDS = ("secret", "unsafe-html", "broken-link", "size", "smoke-run", "stale", "missing-steps",
         "project-yml", "unreadable", "placeholder", "unsafe-link", "below-baseline",
         "model-parity")


@dataclass(frozen=True)
class Finding:
    kind: str
    file: str
    cell: int | None
    what: str
    why: str

    def __str__(self) -> str:
        where = f"{self.file}:cell {self.cell}" if self.cell else self.file
        return f"{where}: {self.what}, {self.why}"


def _plugins() -> list[dict]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    return [{"name": cls.__name__} for cls in get_mapping_from_secret_type_to_class().values()
            if not any(skip in cls.__name__ for skip in _SKIPPED_PLUGINS)]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def cell_texts(notebook: dict) -> list[tuple[int, str]]:
    """Each cell's decoded text: its source and every text output, as a person would read it."""
    cells = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        parts = [_text(cell.get("source", ""))]
        for output in cell.get("outputs", []):
            parts.append(_text(output.get("text", "")))
            parts.extend(_text(v) for k, v in output.get("data", {}).items()
                         if k.startswith("text/") or k.endswith("json"))
            parts.extend(_text(line) for line in output.get("traceback", []))
        cells.append((number, "\n".join(parts)))
    return cells


def read_allowlist(root: Path) -> set[str]:
    path = root / ALLOWLIST
    if not path.is_file():
        return set()
    return {line.split("#")[0].strip() for line in path.read_text().splitlines()
            if line.split("#")[0].strip()}


def unreadable(exc: PortfolioError, why: str) -> Finding:
    """A file the checks could not read, from the one-line error that names it."""
    file, _, what = exc.message.partition(": ")
    return Finding("unreadable", file, None, what, why)


def scan_secrets(notebook: dict, display: str, allowed: set[str]) -> list[Finding]:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    findings = []
    with transient_settings({"plugins_used": _plugins()}):
        for number, text in cell_texts(notebook):
            for line in text.splitlines():
                for secret in scan_line(line):
                    if secret.secret_hash in allowed:
                        continue
                    findings.append(Finding(
                        "secret", display, number, f"{secret.type} ({secret.secret_hash[:12]})",
                        "a credential must not be published; remove it and rotate it, or add "
                        f"its hash to {ALLOWLIST} if it is not a secret"))
    return findings


def check_project(portfolio: Portfolio, project: Project, allowed: set[str]) -> list[Finding]:
    """A notebook file's HTML outputs are not checked for script: the site never executes a
    notebook file (its outputs reach pages only through sanitize.clean_html, and `check`
    audits the pages), and Jupyter does not run the scripts of an untrusted notebook's HTML
    outputs either. Its secrets are, as a person reading the file would see them."""
    from .site.nbrender import read_notebook

    rel = portfolio.rel
    try:
        load_project(project.dir, rel(project.config_file))
    except PortfolioError as exc:
        file, _, rest = exc.message.partition(": ")
        return [Finding("project-yml", file, None, rest, "the project is left out of the site")]
    findings = []
    notebooks = sorted(project.notebooks_dir.glob("*.ipynb")) + sorted(
        (project.export_dir / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        try:
            findings += scan_secrets(read_notebook(path, rel(path)), rel(path), allowed)
        except PortfolioError as exc:
            findings.append(unreadable(exc, "it cannot be checked, run or published"))
    try:
        return findings + check_export(portfolio, project)
    except PortfolioError as exc:
        return findings + [unreadable(exc, "the project cannot be checked or built")]


def check_export(portfolio: Portfolio, project: Project) -> list[Finding]:
    """What is wrong with the project's export: missing, partial, a smoke run or stale.
    Raises the one-line PortfolioError of a record or notebook that cannot be read."""
    from .runner import RunOptions, plan_run, read_manifest
    from .site.collect import load_view

    rel = portfolio.rel
    findings = []
    manifest = read_manifest(project)
    if not manifest:
        return findings + [Finding("missing-steps", rel(project.export_dir), None,
                                   "no export", "run 'portfolio run' before publishing")]
    missing = [s for s in STEPS if not (project.export_dir / "notebooks" / f"{s}.ipynb").is_file()]
    if missing:
        findings.append(Finding("missing-steps", rel(project.export_dir), None,
                                f"steps missing: {', '.join(missing)}",
                                "a published project shows all five steps"))
    view = load_view(portfolio, project)  # metrics.json read as the build reads it
    if view is not None:
        findings += below_baseline(portfolio, view)
    smoke = bool(manifest.get("smoke_run"))
    if smoke:
        findings.append(Finding("smoke-run", rel(project.export_dir / "manifest.json"), None,
                                "the export is a smoke run (--fast)",
                                "its scores are not results; run it in full"))
    plan = plan_run(project, RunOptions(fast=smoke), working_files=False)
    if plan.start < len(STEPS):
        findings.append(Finding("stale", rel(project.export_dir / "manifest.json"), None,
                                f"the export is stale ({plan.reason})",
                                "the published results would not match the notebooks"))
    return findings


def browser_model(portfolio: Portfolio, project: Project, site: Path) -> tuple[list[Finding],
                                                                               list[str]]:
    """The page's "Try the model": its graph (the site's copy where the site is built, else
    the export's) run by onnxruntime on the 20 examples of browser.json must give the
    project's model's outputs; a project without one is said, with why, in one line."""
    from .records import BROWSER_ONNX as ONNX
    from .records import BROWSER_SPEC as SPEC
    from .records import as_json
    from .site.collect import load_view

    try:
        view = load_view(portfolio, project)
    except PortfolioError:
        return [], []  # check_project reported it
    if view is None:
        return [], []
    spec = view.browser
    display = portfolio.rel(project.export_dir / "model" / SPEC)
    if spec is None:  # an export of an earlier version: its page goes without the widget
        return [], []
    if spec.unavailable is not None:
        why = " ".join("".join(c if c.isprintable() else " " for c in spec.unavailable).split())
        return [], [f"{display}: no in-browser model, the page goes without it ({why})"]
    graph = site / "projects" / view.slug / "try" / ONNX
    if graph.is_symlink() or (graph.exists() and not graph.is_file()):
        return [Finding("model-parity", portfolio.rel(graph), None,
                        "not a plain file (the site holds a copy of the export's model.onnx)",
                        "the page's 'Try the model' would fail; run 'portfolio build' again")], []
    export_graph = project.export_dir / "model" / ONNX
    graphs = [graph] if graph.is_file() else []
    # The export's own graph too where the site's copy is older (a run since the last build).
    if not graphs or _bytes(graph) != _bytes(export_graph):
        graphs.append(export_graph)
    for graph in graphs:
        try:
            from .browser import parity

            worst, count = parity(as_json(spec), graph)
        except ImportError:
            return [], [f"{portfolio.rel(graph)}: not checked against the model, onnxruntime is "
                        "not installed (pip install the kit's 'train' extra)"]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own kinds on a bad graph
            return [Finding("model-parity", portfolio.rel(graph), None,
                            f"onnxruntime cannot run it ({' '.join(str(exc).split())[:200]})",
                            "the page's 'Try the model' would fail")], []
        if not worst <= 1:  # NaN included
            return [Finding("model-parity", portfolio.rel(graph), None,
                            f"its outputs on the {count} examples of {SPEC} differ from the "
                            f"model's by up to {worst:.3g} times the tolerance ({spec.tolerance})",
                            "the page would show predictions the model does not make")], []
    return [], []


def _bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def below_baseline(portfolio: Portfolio, view) -> list[Finding]:
    """A test score that does not beat the naive baseline of step 1, in the metric's direction
    (the site marks such a project on its card, its page and the leaderboard)."""
    from .site.pages import fmt, metric_label

    primary, baseline = view.primary, view.baseline
    if not primary or not baseline or baseline["name"] != primary["name"]:
        return []
    sign = 1 if primary["direction"] == "maximize" else -1
    if sign * (primary["value"] - baseline["value"]) > 0:
        return []
    metric = primary["name"]
    return [Finding("below-baseline", portfolio.rel(view.project.export_dir / "metrics.json"), None,
                    f"project '{view.slug}': the test score ({metric_label(metric)} "
                    f"{fmt(primary['value'], metric)}) does not beat the naive baseline "
                    f"({fmt(baseline['value'], metric)})",
                    "the site marks it on its card, its page and the leaderboard; to publish it so, "
                    "use --force below-baseline")]


def own_summaries(portfolio: Portfolio, configs: dict[Path, ProjectConfig]) -> list[Finding]:
    """A project without a summary (the template's default one is a placeholder, reported
    with the others): its card would say nothing of it and its link preview only its title."""
    why = "a card and a link preview show it; write one sentence on what this project asks and finds"
    return [Finding("placeholder", portfolio.rel(path), None, "field 'summary' is empty", why)
            for path, config in configs.items() if not config.summary.strip()]


def card_warnings(portfolio: Portfolio, configs: dict[Path, ProjectConfig]) -> list[str]:
    """The data cards that name no licence or no source URL (built-in data: the registry's
    card fills what project.yml leaves empty; 'not stated' is empty)."""
    from .site.collect import data_card

    warnings = []
    for path, config in configs.items():
        card = data_card(config)
        display = portfolio.rel(path)
        if not card["licence"]:
            warnings.append(f"{display}: the data card names no licence (dataset.licence), "
                            "readers cannot tell whether the data may be used")
        if not card["url"]:
            warnings.append(f"{display}: the data card names no source (dataset.url), "
                            "readers cannot tell where the data come from")
    return warnings


def broken_links(site: Path, path: Path, found: list) -> list[str]:
    """The links (href, src) of a page to files of the site that are not there."""
    broken = []
    for element in found:
        for name, value in element.attrs:
            if name not in ("href", "src"):
                continue
            url = urlsplit(value)
            if url.scheme or url.netloc or not url.path:
                continue
            link = unquote(url.path)
            target = (site / link.lstrip("/")) if link.startswith("/") else (path.parent / link)
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(url.path)
    return broken


def check_site(portfolio: Portfolio, site: Path) -> tuple[list[Finding], list[str]]:
    """Sizes, broken links, and anything in a page or SVG file that could run script
    (site/audit.py: every element and attribute of every HTML and SVG file)."""
    from .site.audit import audit_elements, audit_svg, elements

    findings, warnings = [], []
    rel = portfolio.rel
    total = 0
    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        if size > FILE_LIMIT:
            findings.append(Finding("size", rel(path), None, f"{size / MB:.0f} MB",
                                    "GitHub Pages refuses files over 100 MB"))
        elif size > FILE_WARN:
            warnings.append(f"{rel(path)}: {size / MB:.0f} MB, GitHub warns about files over 50 MB")
        page = path.relative_to(site).as_posix()
        if path.suffix == ".svg":
            problems = audit_svg(path.read_bytes(), page)
        elif path.suffix == ".html":
            found = elements(path.read_text(encoding="utf-8", errors="replace"))
            problems = audit_elements(found, page)
            findings += [Finding("broken-link", rel(path), None, f"link to {href}",
                                 "its target is not in the site")
                         for href in broken_links(site, path, found)]
        else:
            continue
        findings += [Finding("unsafe-html", rel(path), None, p.what, p.why) for p in problems]
    if total > SITE_LIMIT:
        findings.append(Finding("size", rel(site), None, f"{total / MB:.0f} MB in all",
                                "GitHub Pages sites must stay under 1 GB"))
    return findings, warnings


def unsafe_links(portfolio: Portfolio, profile) -> list[Finding]:
    """The profile's addresses the site drops (it shows a link's label without the link):
    the owner should know that a link they wrote is not on their page."""
    from .site.sanitize import safe_url

    named = [(f"link '{link.label}'", link.url) for link in profile.links]
    named += [(f"field '{key}'", getattr(profile, key)) for key in ("repository", "site_url")]
    return [Finding("unsafe-link", portfolio.rel(portfolio.profile_file), None,
                    f"{where} has the address {url!r}",
                    "the site leaves it out: only http, https, mailto and relative links are shown")
            for where, url in named if url and safe_url(url) is None]


def run_checks(portfolio: Portfolio, site: Path | None = None) -> tuple[list[Finding], list[str]]:
    """Every finding over the projects and, where it was built, the site."""
    allowed = read_allowlist(portfolio.root)
    findings: list[Finding] = []
    try:
        profile = load_profile(portfolio.profile_file, portfolio.rel(portfolio.profile_file))
    except PortfolioError as exc:
        file, _, rest = exc.message.partition(": ")
        findings.append(Finding("project-yml", file, None, rest, "the site cannot be built"))
    else:
        findings += unsafe_links(portfolio, profile)
    findings += [Finding("placeholder", file, None, what, "an example from portfolio init or the "
                         "template; replace it with your own before publishing")
                 for file, what in find_placeholders(portfolio)]
    configs: dict[Path, ProjectConfig] = {}
    for project in portfolio.projects():
        findings += check_project(portfolio, project, allowed)
        try:
            configs[project.config_file] = load_project(project.dir, portfolio.rel(project.config_file))
        except PortfolioError:
            pass  # check_project reported it
    findings += own_summaries(portfolio, configs)
    warnings = card_warnings(portfolio, configs)
    site = site or portfolio.root / "site"
    for project in portfolio.projects():
        model_findings, model_warnings = browser_model(portfolio, project, site)
        findings += model_findings
        warnings += model_warnings
    if site.is_dir():
        site_findings, site_warnings = check_site(portfolio, site)
        findings += site_findings
        warnings += site_warnings
    return findings, warnings


def report(findings: list[Finding], warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for finding in findings:
        click.echo(str(finding))
    if findings:
        kinds = sorted({f.kind for f in findings})
        raise PortfolioError(f"{len(findings)} finding(s) ({', '.join(kinds)})")
    click.echo("no findings")
