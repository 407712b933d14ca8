"""Step 4's folds fitted side by side in processes of their own, against one after the other.

Each example is copied out of portfolio/ (never run in place) and run in full with
`portfolio run --force --workers 1`, with PORTFOLIO_PROCESSES=N (N processes) and then =1
(the kernel alone), pair after pair, so that a drift in the machine's speed touches both.
Wall and CPU time per step (CPU: the kernel's and the processes it started), and whether the
two runs' metrics.json values are the same to the last digit. Writes a section of
docs/benchmarks.md.

    python benchmarks/parallel_folds.py [--examples digits-cnn,breast-cancer-mlp] [--pairs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from docs_section import write_section  # noqa: E402
from full_runs import run_in_full  # noqa: E402


def metric_values(root: Path, slug: str) -> dict[str, float]:
    records = json.loads((root / "portfolio/projects" / slug / "export/metrics.json").read_text())
    return {f"{r['name']} {r['split']} {r.get('model')}": r["value"] for r in records["metrics"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default="digits-cnn,breast-cancer-mlp")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks/parallel_folds.json")
    args = parser.parse_args()
    load = list(os.getloadavg())
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="parallel-folds-") as tmp:
        root = Path(tmp) / "folio"
        root.mkdir()
        shutil.copy2(REPO / "mkdocs.yml", root / "mkdocs.yml")
        shutil.copytree(REPO / "portfolio", root / "portfolio",
                        ignore=shutil.ignore_patterns(".portfolio", "export"))
        for slug in args.examples.split(","):
            for pair in range(args.pairs):
                runs = {}
                for processes in (args.processes, 1):
                    os.environ["PORTFOLIO_PROCESSES"] = str(processes)
                    started = time.strftime("%H:%M")
                    run = run_in_full(root, slug)
                    run["metrics"] = metric_values(root, slug)
                    runs[processes] = run
                    print(f"{slug} pair {pair + 1}, {processes} process(es) ({started}): "
                          f"{run['wall']} s, step 4 {run['steps']['04']['wall']} s", flush=True)
                same = runs[args.processes]["metrics"] == runs[1]["metrics"]
                results.setdefault(slug, []).append(
                    {"processes": {str(k): {key: v for key, v in run.items() if key != "metrics"}
                                   for k, run in runs.items()}, "same metrics": same,
                     "metrics compared": len(runs[1]["metrics"])})
    os.environ.pop("PORTFOLIO_PROCESSES", None)
    args.json.write_text(json.dumps({"load": load, "results": results}, indent=2) + "\n")
    n = args.processes
    lines = [
        f"`python benchmarks/parallel_folds.py --pairs {args.pairs}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}) on {os.cpu_count()} cores, load average at the "
        f"start {', '.join(f'{x:.1f}' for x in load)}: each example run in full with "
        f"`PORTFOLIO_PROCESSES={n}` (step 4's folds fitted {n} at a time, each in a process of "
        "its own) and then `=1` (in the kernel, one after the other), pair after pair. Wall "
        "seconds, CPU seconds in brackets (the kernel's and its processes').",
        "",
        f"| example | pair | whole run, {n} / 1 | step 4, {n} / 1 | ratio {n} / 1 | "
        "metrics the same |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for slug, pairs in results.items():
        for number, pair in enumerate(pairs, start=1):
            a, b = pair["processes"][str(n)], pair["processes"]["1"]
            lines.append(
                f"| {slug} | {number} | {a['wall']} / {b['wall']} s | "
                f"{a['steps']['04']['wall']} ({a['steps']['04']['cpu']}) / "
                f"{b['steps']['04']['wall']} ({b['steps']['04']['cpu']}) s | "
                f"{a['wall'] / b['wall']:.2f} | "
                f"{'yes' if pair['same metrics'] else 'NO'} ({pair['metrics compared']}) |")
    write_section("parallel-folds", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
