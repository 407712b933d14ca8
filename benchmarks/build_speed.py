"""How fast and how big `portfolio build` is as a portfolio grows, against MkDocs + mkdocs-jupyter.

Over synthetic exported portfolios (benchmarks/synth.py: five executed notebooks per project,
each with a Markdown narrative, a pandas table, a PNG figure and 200 lines of streamed text)
of N = 20, 100 and 400 projects, one run measures, alternating the contenders, the median of
several runs of:

- `portfolio build` cold (no build/ nor site/), with nothing changed, and with one project
  changed (its export written again with another score);
- MkDocs + Material + mkdocs-jupyter (execute: false, include_source: true) over the same
  executed notebooks: cold (no site/, no cache), with nothing changed and with one project's
  notebooks changed (mkdocs-jupyter caches each converted notebook, by content, in
  .cache/mkdocs-jupyter; MkDocs renders every page each time);
- plain `mkdocs build --strict` over the Markdown that `portfolio build` generated: the floor.

Each build runs in its own process; recorded: wall time, CPU time and peak memory (RSS) of
that process (os.wait4), the site's size (bytes of all its files), its largest page and its
search index. The table and the targets go to docs/benchmarks.md (between the build-speed
markers), the raw numbers to benchmarks/build_speed.json.

    pip install -e ".[bench]"
    python benchmarks/build_speed.py                   # N = 20, 100, 400; 3 runs, 2 of mkdocs-jupyter
    python benchmarks/build_speed.py --quick           # a smoke run: N = 5, one run, no file
    python benchmarks/build_speed.py --sizes 20,100 --repeats 5 --jupyter-max 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import synth  # noqa: E402
from docs_section import write_section  # noqa: E402

from site_builder import STEPS  # noqa: E402

RAW = HERE / "build_speed.json"
JUPYTER_YML = """\
site_name: mkdocs-jupyter benchmark
theme:
  name: material
nav:
  - Home: index.md
plugins:
  - search
  - mkdocs-jupyter:
      execute: false
      include_source: true
"""


def _peak_rss(pid: int, peak: list[int], done: threading.Event) -> None:
    """The highest resident memory of the build's processes together (the build and any
    worker processes it starts), sampled every 50 ms until it ends.

    Not getrusage's ru_maxrss: Linux carries the forking parent's peak across exec into it,
    and it counts one process only."""
    import psutil

    try:
        process = psutil.Process(pid)
        while not done.is_set():
            total = process.memory_info().rss
            for child in process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], total // 1024)
            done.wait(0.05)
    except psutil.Error:
        return


def run(command: list[str], cwd: Path, env: dict | None = None) -> dict:
    """One build in its own process: wall and CPU seconds, peak RSS; fails loudly."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
        peak, done = [0], threading.Event()
        sampler = threading.Thread(target=_peak_rss, args=(process.pid, peak, done), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} in {cwd} failed:\n{output[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": peak[0] / 1024, "output": output.strip().splitlines()[-1:]}


def site_stats(site: Path) -> dict:
    total, largest, name = 0, 0, ""
    for path in site.rglob("*"):
        if path.is_file():
            size = path.stat().st_size
            total += size
            if path.suffix == ".html" and size > largest:
                largest, name = size, str(path.relative_to(site))
    index = site / "search" / "search_index.json"
    return {"site_mb": total / 1e6, "largest_page_kb": largest / 1e3, "largest_page": name,
            "search_index_kb": index.stat().st_size / 1e3 if index.is_file() else 0.0}


def portfolio(root: Path, *args: str) -> dict:
    return run([sys.executable, "-m", "site_builder", "build", *args], root)


def prepare(work: Path, projects: int) -> tuple[Path, Path]:
    """The synthetic portfolio and the mkdocs-jupyter tree over the same notebooks (cached)."""
    root, jupyter = work / f"n{projects}" / "folio", work / f"n{projects}" / "jupyter"
    marker = work / f"n{projects}" / "ready"
    if not marker.is_file():
        started = time.perf_counter()
        synth.make_portfolio(root, projects)
        if jupyter.exists():
            shutil.rmtree(jupyter)
        docs = jupyter / "docs"
        lines = ["# Projects", ""]
        for project in sorted((root / "portfolio/projects").iterdir()):
            (docs / "projects" / project.name).mkdir(parents=True)
            for step in STEPS:
                shutil.copy(project / "export/notebooks" / f"{step}.ipynb",
                            docs / "projects" / project.name / f"{step}.ipynb")
            lines.append(f"- {project.name}: " + ", ".join(
                f"[{step}](projects/{project.name}/{step}.ipynb)" for step in STEPS))
        (docs / "index.md").write_text("\n".join(lines) + "\n")
        (jupyter / "mkdocs.yml").write_text(JUPYTER_YML)
        marker.write_text(f"{time.perf_counter() - started:.0f} s to generate\n")
    return root, jupyter


def clean(root: Path) -> None:
    for name in ("build", "site", ".portfolio"):
        if (root / name).exists():
            shutil.rmtree(root / name)


def measure(work: Path, projects: int, repeats: int, jupyter: int) -> dict:
    root, jupyter_root = prepare(work, projects)
    results: dict[str, list[dict]] = {}

    def record(name: str, sample: dict, site: Path) -> None:
        results.setdefault(name, []).append({**sample, **site_stats(site)})
        print(f"  N={projects} {name:<22} {sample['wall_s']:7.2f} s wall "
              f"{sample['cpu_s']:7.2f} s CPU {sample['peak_mb']:6.0f} MB", flush=True)

    def ours() -> None:
        clean(root)
        record("ours: cold", portfolio(root), root / "site")
        record("ours: nothing changed", portfolio(root), root / "site")
        changed = len(results["ours: cold"]) % projects
        synth.make_project(root, changed, score_shift=0.001 * len(results["ours: cold"]))
        record("ours: one changed", portfolio(root), root / "site")

    def floor() -> None:
        if not (root / "build" / "docs").is_dir():
            portfolio(root)
        target = root / "floor-site"
        if target.exists():
            shutil.rmtree(target)
        sample = run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f",
                      "mkdocs.yml", "-d", str(target)], root, {"NO_MKDOCS_2_WARNING": "1"})
        record("plain MkDocs (floor)", sample, target)

    def mkdocs_jupyter() -> None:
        # Cold: no site/ and no cache of converted notebooks (mkdocs-jupyter keeps one in
        # .cache/mkdocs-jupyter, keyed by each notebook's content).
        for name in ("site", ".cache"):
            if (jupyter_root / name).exists():
                shutil.rmtree(jupyter_root / name)
        command = [sys.executable, "-m", "mkdocs", "build", "-q"]
        env = {"NO_MKDOCS_2_WARNING": "1"}
        record("mkdocs-jupyter: cold", run(command, jupyter_root, env), jupyter_root / "site")
        record("mkdocs-jupyter: nothing changed", run(command, jupyter_root, env),
               jupyter_root / "site")
        # The same project that `ours` changes in this round, its notebooks written again.
        changed = (len(results["mkdocs-jupyter: cold"]) + 1) % projects
        project = synth.make_project(root, changed, score_shift=0.0005 * len(results[
            "mkdocs-jupyter: cold"]))
        for step in STEPS:
            shutil.copy(project / "export/notebooks" / f"{step}.ipynb",
                        jupyter_root / "docs/projects" / project.name / f"{step}.ipynb")
        record("mkdocs-jupyter: one changed", run(command, jupyter_root, env),
               jupyter_root / "site")

    for repeat in range(max(repeats, jupyter)):
        blocks = ([ours, floor] if repeat < repeats else []) + \
            ([mkdocs_jupyter] if repeat < jupyter else [])
        for block in (blocks if repeat % 2 == 0 else blocks[::-1]):
            block()
    summary = {}
    for name, samples in results.items():
        summary[name] = {key: statistics.median(s[key] for s in samples)
                         for key in ("wall_s", "cpu_s", "peak_mb", "site_mb", "largest_page_kb",
                                     "search_index_kb")}
        summary[name]["largest_page"] = samples[-1]["largest_page"]
        summary[name]["runs"] = len(samples)
        summary[name]["wall_all"] = [round(s["wall_s"], 2) for s in samples]
    return summary


def targets(results: dict[str, dict]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for the targets of the performance issue: judged on wall time,
    with the CPU-time ratio beside it (less disturbed by a busy machine)."""
    rows: list[tuple[str, str, bool | None]] = []

    def ratio(label: str, n: str, a: str, b: str, at_least: float, key: str = "wall_s") -> None:
        name = f"N={n}: {label} ≥ {at_least:g}×"
        if n not in results or a not in results[n] or b not in results[n]:
            rows.append((name, "not measured", None))
            return
        value = results[n][b][key] / results[n][a][key]
        shown = f"{value:.1f}×"
        if key == "wall_s":
            shown += f" (CPU {results[n][b]['cpu_s'] / results[n][a]['cpu_s']:.1f}×)"
        rows.append((name, shown, value >= at_least))

    ratio("cold build faster than mkdocs-jupyter", "100", "ours: cold", "mkdocs-jupyter: cold", 10)
    ratio("nothing changed faster than mkdocs-jupyter", "100", "ours: nothing changed",
          "mkdocs-jupyter: nothing changed", 20)
    ratio("one project changed faster than mkdocs-jupyter", "100",
          "ours: one changed", "mkdocs-jupyter: one changed", 3)
    ratio("site smaller than mkdocs-jupyter's", "100", "ours: cold", "mkdocs-jupyter: cold", 10,
          "site_mb")
    r = results.get("100", {})
    if "ours: cold" in r and "plain MkDocs (floor)" in r:
        wall = r["ours: cold"]["wall_s"] / r["plain MkDocs (floor)"]["wall_s"]
        cpu = r["ours: cold"]["cpu_s"] / r["plain MkDocs (floor)"]["cpu_s"]
        rows.append(("N=100: whole cold build ≤ 1.25× plain MkDocs over our Markdown",
                     f"{wall:.2f}× (CPU {cpu:.2f}×)", wall <= 1.25))
    if "ours: cold" in r:
        size = r["ours: cold"]["search_index_kb"]
        rows.append(("N=100: search index ≤ 1 MB", f"{size / 1000:.2f} MB", size <= 1000))
    if "ours: cold" in r and "ours: cold" in results.get("400", {}):
        big = results["400"]["ours: cold"]
        for key, label, limit in (("wall_s", "cold build time", 4.5), ("site_mb", "site size", 4.2)):
            value = big[key] / r["ours: cold"][key]
            shown = f"{value:.2f}×" + (f" (CPU {big['cpu_s'] / r['ours: cold']['cpu_s']:.2f}×)"
                                       if key == "wall_s" else "")
            rows.append((f"N=100 → 400: {label} grows ≤ {limit}×", shown, value <= limit))
    return rows


def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in
                     Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for name in ("mkdocs", "mkdocs-material", "mkdocs-jupyter", "dl-portfolio-kit"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "load_average": [round(x, 1) for x in os.getloadavg()], "versions": versions}


def markdown(results: dict, runs: dict, skipped: list[str]) -> str:
    out = ["## Build speed and size", ""]
    for n, run_info in runs.items():
        info = run_info["machine"]
        when = f" ({run_info['date']})" if run_info.get("date") else ""
        out.append(f"- N={n}: `{run_info['command']}`{when} on {info['cores']} cores "
                   f"({info['cpu'] or 'unknown CPU'}), Python {info['python']}, "
                   + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
                   + f"; load average at the start {info['load_average']}.")
    if len({json.dumps(r, sort_keys=True) for r in runs.values()}) > 1:
        out += ["", "The sizes come from separate runs (above), under different loads: a ratio "
                "of wall times across them (the growth from N=100 to N=400) is only indicative; "
                "the CPU-time ratio beside it is the comparable one."]
    out += ["", "A shared machine: wall times are noisy (other work runs beside the builds), "
            "CPU times less so. Medians of the runs (their number in brackets); each build is "
            "its own process; CPU and peak memory include the worker processes a build starts. "
            "Site size: the bytes of all its files.", "",
            "| N | build | wall s | CPU s | peak MB | site MB | largest page | search index KB |",
            "|---:|---|---:|---:|---:|---:|---|---:|"]
    for n in sorted(results, key=int):
        for name, r in results[n].items():
            out.append(f"| {n} | {name} ({r['runs']}×) | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                       f"{r['peak_mb']:.0f} | {r['site_mb']:.1f} | {r['largest_page_kb']:.0f} KB "
                       f"`{r['largest_page']}` | {r['search_index_kb']:.0f} |")
    out += ["", "| target | measured | met |", "|---|---:|:---:|"]
    for label, value, met in targets(results):
        out.append(f"| {label} | {value} | {'yes' if met else '—' if met is None else 'NO'} |")
    if skipped:
        out += ["", "Not measured: " + "; ".join(skipped) + "."]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100,400", help="numbers of projects")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeats-large", type=int, default=2, help="runs at N >= 400")
    parser.add_argument("--jupyter-repeats", type=int, default=2,
                        help="runs of mkdocs-jupyter (minutes each at N = 100)")
    parser.add_argument("--jupyter-max", type=int, default=100,
                        help="run mkdocs-jupyter up to this N only (it takes minutes per build)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pf-bench",
                        help="where the synthetic portfolios are made (kept for later runs)")
    parser.add_argument("--report", action="store_true",
                        help="write docs/benchmarks.md again from benchmarks/build_speed.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other sizes' results of benchmarks/build_speed.json")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: N = 5, one run of each, nothing written")
    args = parser.parse_args()
    if args.report:
        previous = json.loads(RAW.read_text())
        write_section("build-speed", markdown(previous["results"], previous["runs"],
                                              previous.get("skipped", [])))
        return
    sizes = [5] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    try:
        metadata.version("mkdocs-jupyter")
        has_jupyter = True
    except metadata.PackageNotFoundError:
        has_jupyter = False
    command = "python benchmarks/build_speed.py" + ("" if len(sys.argv) == 1 else
                                                     " " + " ".join(sys.argv[1:]))
    results, runs, skipped = {}, {}, []
    if args.merge and RAW.is_file():
        previous = json.loads(RAW.read_text())
        results, runs = previous.get("results", {}), previous.get("runs", {})
        for n in results:
            runs.setdefault(n, {"command": previous.get("command", "?"),
                                "machine": previous.get("machine", machine())})
            for name in list(results[n]):  # (the name an earlier version of this script used)
                if name == "mkdocs-jupyter: again":
                    results[n]["mkdocs-jupyter: nothing changed"] = results[n].pop(name)
        skipped = [s for s in previous.get("skipped", []) if not any(
            s.startswith(f"mkdocs-jupyter at N={n} ") or s == f"mkdocs-jupyter at N={n}"
            for n in sizes)]
    for n in sizes:
        jupyter = repeats if args.quick else args.jupyter_repeats
        jupyter = jupyter if has_jupyter and n <= args.jupyter_max else 0
        if not jupyter:
            skipped.append(f"mkdocs-jupyter at N={n}" + ("" if has_jupyter else " (not installed)")
                           + (f" (over --jupyter-max {args.jupyter_max})" if has_jupyter else ""))
        runs[str(n)] = {"command": command, "machine": machine(),
                        "date": time.strftime("%Y-%m-%d %H:%M")}
        count = min(repeats, args.repeats_large) if n >= 400 else repeats
        results[str(n)] = measure(args.work, n, count, jupyter)
    section = markdown(results, runs, skipped)
    print(section)
    if not args.quick:
        write_section("build-speed", section)
        RAW.write_text(json.dumps({"results": results, "runs": runs, "skipped": skipped},
                                  indent=1) + "\n")


if __name__ == "__main__":
    main()
