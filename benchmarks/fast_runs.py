"""How long a `--fast` run of a new project takes, for each problem type.

A project of each type is made with `portfolio new` on its built-in dataset and run with
`portfolio run --fast --force --workers 1`, one project at a time, as a user checks a new
project end to end (target: well under a minute). Each run is done twice side by side: with
the next two notebooks' kernels started, and importing their libraries, while one notebook
runs (the default), and with each kernel started only when its notebook's turn comes
(PORTFOLIO_KERNELS_AHEAD=0, as before that was done). The order alternates between repeats.

    python benchmarks/fast_runs.py [--repeats 3] [--types tabular-classification,...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from site_builder import PROBLEM_TYPES  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from docs_section import write_section  # noqa: E402

MODES = {"ahead": None, "in turn": "0"}  # None: the default (two kernels ahead)


def portfolio(root: Path, *args: str, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "site_builder", *args], cwd=root,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"portfolio {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def steps(root: Path, slug: str) -> dict[str, float]:
    manifest = json.loads((root / "portfolio/projects" / slug / "export/manifest.json").read_text())
    return {n["step"][:2]: n["seconds"] for n in manifest["notebooks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--types", default=",".join(PROBLEM_TYPES))
    args = parser.parse_args()
    types = args.types.split(",")
    load = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {t: {m: [] for m in MODES} for t in types}
    last_steps: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "folio"
        subprocess.run([sys.executable, "-m", "site_builder", "init", str(root)], check=True,
                       capture_output=True)
        for problem in types:
            portfolio(root, "new", f"Fast {problem}", "--problem", problem, "--slug", problem,
                      "--no-input")
        for repeat in range(args.repeats):
            order = list(MODES) if repeat % 2 == 0 else list(MODES)[::-1]
            for problem in types:
                for mode in order:
                    seconds = portfolio(root, "run", "--fast", "--force", "--workers", "1",
                                        problem, env=None if MODES[mode] is None else
                                        {"PORTFOLIO_KERNELS_AHEAD": MODES[mode]})
                    times[problem][mode].append(seconds)
                    if mode == "ahead":
                        last_steps[problem] = steps(root, problem)
                    print(f"{problem} {mode}: {seconds:.1f} s", flush=True)
    rows = ["| problem type | kernels ahead (default), s | kernels in turn, s | ratio | "
            "steps 1-5, s (last run, kernels ahead) |", "|---|---:|---:|---:|---|"]
    for problem in types:
        ahead = statistics.median(times[problem]["ahead"])
        in_turn = statistics.median(times[problem]["in turn"])
        per_step = ", ".join(f"{s:.1f}" for s in last_steps[problem].values())
        rows.append(f"| {problem} | **{ahead:.1f}** | {in_turn:.1f} | {ahead / in_turn:.2f} | "
                    f"{per_step} |")
    print("\n".join(rows))
    command = "python benchmarks/fast_runs.py" + "".join(f" {a}" for a in sys.argv[1:])
    section = "\n".join([
        "## How long a fast run of a new project takes", "",
        f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')}) on {os.cpu_count()} cores, load "
        f"average at the start {', '.join(f'{x:.1f}' for x in load)}: `portfolio run --fast "
        f"--force --workers 1 SLUG` on a new project of each type (built-in dataset), whole "
        f"command, median of {args.repeats} runs each way, run side by side (target: well "
        "under a minute). \"Kernels ahead\" starts the next two notebooks' kernels while one "
        "notebook runs, each importing its notebook's libraries once the one before has; "
        "\"in turn\" starts each kernel when its notebook starts "
        "(`PORTFOLIO_KERNELS_AHEAD=0`).", "", *rows])
    write_section("fast-runs", section)


if __name__ == "__main__":
    main()
