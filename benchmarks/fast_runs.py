"""How long a `--fast` run of a new project takes, for each problem type.

A project of each type is made with `portfolio new` on its built-in dataset and run with
`portfolio run --fast --force --workers 1`, one project at a time, as a user checks a new
project end to end (target: 20 s). Each run is done three ways side by side:

- shared (the default): steps 1-2 share one kernel and the training steps 3-5 another, reset
  between notebooks; the training kernel is started, and imports Keras, while steps 1-2 run;
- own kernels (PORTFOLIO_SHARED_KERNELS=0): a kernel per notebook, the next two started and
  importing their libraries while one notebook runs (as a full run does);
- in turn (both variables 0): each kernel started when its notebook's turn comes.

The order of the three rotates between repeats.

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

MODES = {
    "shared": {},
    "own kernels": {"PORTFOLIO_SHARED_KERNELS": "0"},
    "in turn": {"PORTFOLIO_SHARED_KERNELS": "0", "PORTFOLIO_KERNELS_AHEAD": "0"},
}


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
            shift = repeat % len(MODES)
            order = list(MODES)[shift:] + list(MODES)[:shift]
            for problem in types:
                for mode in order:
                    seconds = portfolio(root, "run", "--fast", "--force", "--workers", "1",
                                        problem, env=MODES[mode])
                    times[problem][mode].append(seconds)
                    if mode == "shared":
                        last_steps[problem] = steps(root, problem)
                    print(f"{problem} {mode}: {seconds:.1f} s", flush=True)
    rows = ["| problem type | shared kernels (default), s | own kernels, s | in turn, s | "
            "shared / own | steps 1-5, s (last shared run) |", "|---|---:|---:|---:|---:|---|"]
    for problem in types:
        shared, own, in_turn = (statistics.median(times[problem][mode]) for mode in MODES)
        per_step = ", ".join(f"{s:.1f}" for s in last_steps[problem].values())
        rows.append(f"| {problem} | **{shared:.1f}** | {own:.1f} | {in_turn:.1f} | "
                    f"{shared / own:.2f} | {per_step} |")
    print("\n".join(rows))
    command = "python benchmarks/fast_runs.py" + "".join(f" {a}" for a in sys.argv[1:])
    section = "\n".join([
        "## How long a fast run of a new project takes", "",
        f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')}) on {os.cpu_count()} cores, load "
        f"average at the start {', '.join(f'{x:.1f}' for x in load)}: `portfolio run --fast "
        f"--force --workers 1 SLUG` on a new project of each type (built-in dataset), whole "
        f"command, median of {args.repeats} runs each way, run side by side (target: 20 s). "
        "\"Shared\" (the default for `--fast`): steps 1-2 run on one kernel and the training "
        "steps 3-5 on another, reset between notebooks, which starts and imports Keras while "
        "steps 1-2 run. \"Own kernels\" (`PORTFOLIO_SHARED_KERNELS=0`, as a full run): a "
        "kernel per notebook, the next two started and importing their libraries while one "
        "notebook runs. \"In turn\" (`PORTFOLIO_KERNELS_AHEAD=0` too): each kernel started "
        "when its notebook starts.", "", *rows])
    write_section("fast-runs", section)


if __name__ == "__main__":
    main()
