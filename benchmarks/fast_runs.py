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
from datetime import datetime
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


def cells(root: Path, slug: str) -> list[tuple[float, str, str]]:
    """Each code cell of the run's exported notebooks: its seconds (from the execution times
    the kernel reported), its step and its first line."""
    found = []
    for notebook in sorted((root / "portfolio/projects" / slug / "export/notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            timing = cell.get("metadata", {}).get("execution", {})
            if cell["cell_type"] != "code" or "iopub.execute_input" not in timing:
                continue
            start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            source = "".join(cell["source"]).strip().splitlines()
            found.append(((end - start).total_seconds(), notebook.name[:2],
                          source[0] if source else ""))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--types", default=",".join(PROBLEM_TYPES))
    args = parser.parse_args()
    types = args.types.split(",")
    load = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {t: {m: [] for m in MODES} for t in types}
    last_steps: dict[str, dict[str, float]] = {}
    last_cells: dict[str, list[tuple[float, str, str]]] = {}
    last_whole: dict[str, float] = {}
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
                        last_cells[problem] = cells(root, problem)
                        last_whole[problem] = seconds
                    print(f"{problem} {mode}: {seconds:.1f} s", flush=True)
    rows = ["| problem type | shared kernels (default), s | own kernels, s | in turn, s | "
            "shared / own | steps 1-5, s (last shared run) |", "|---|---:|---:|---:|---:|---|"]
    for problem in types:
        shared, own, in_turn = (statistics.median(times[problem][mode]) for mode in MODES)
        per_step = ", ".join(f"{s:.1f}" for s in last_steps[problem].values())
        rows.append(f"| {problem} | **{shared:.1f}** | {own:.1f} | {in_turn:.1f} | "
                    f"{shared / own:.2f} | {per_step} |")
    where = ["| problem type | whole command, s | in code cells, s | around them, s | "
             "the longest cells (step: seconds, first line) |", "|---|---:|---:|---:|---|"]
    for problem in types:
        found = last_cells[problem]
        inside = sum(seconds for seconds, _, _ in found)
        longest = "; ".join(f"{step}: {seconds:.1f} `{line[:40]}`" for seconds, step, line
                            in sorted(found, reverse=True)[:3])
        where.append(f"| {problem} | {last_whole[problem]:.1f} | {inside:.1f} | "
                     f"{last_whole[problem] - inside:.1f} | {longest} |")
    print("\n".join(rows + [""] + where))
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
        "when its notebook starts.", "", *rows, "",
        "Where the last shared run of each type spent its time: in the notebooks' code cells "
        "(as the kernel timed them: the training, the figures, saving and checking the model) "
        "and around them (starting the command and its kernels, waiting for the training "
        "kernel's import of Keras, resetting the shared kernel between notebooks, reading and "
        "writing the notebooks and the export).", "", *where])
    write_section("fast-runs", section)


if __name__ == "__main__":
    main()
