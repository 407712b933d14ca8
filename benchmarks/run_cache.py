"""What `portfolio run` costs when little or nothing changed.

1. A no-op run over N copies of an exported project (target: at most 1 s, no kernel).
2. A fast run of one project, then a re-run after a change in step 4, compared with the
   share of steps 4-5 in the full run's time (target: at most that share).

    python benchmarks/run_cache.py [--copies 100] [--source portfolio/projects/breast-cancer-mlp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import make_portfolio  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from docs_section import write_section  # noqa: E402


def portfolio(root: Path, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "site_builder", *args], cwd=root,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"portfolio {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds, done.stdout


def kernel_starts(root: Path) -> int:
    return sum(log.stat().st_size > 0 for log in root.rglob(".portfolio/logs/kernel.log"))


def noop(source: Path, copies: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_portfolio(Path(tmp) / "folio")
        for i in range(copies):
            target = root / "portfolio/projects" / f"copy-{i:03d}"
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".portfolio"))
            config = target / "project.yml"
            config.write_text(config.read_text().replace(f"slug: {source.name}",
                                                         f"slug: copy-{i:03d}"))
        # The copies' project.yml differ from the source's (the slug), so the first run
        # re-keys nothing but must see them as changed: rewrite each manifest's keys.
        from site_builder.cache import step_inputs
        from site_builder.layout import Project

        for project_dir in sorted((root / "portfolio/projects").iterdir()):
            project = Project(project_dir)
            manifest_path = project.export_dir / "manifest.json"
            manifest = json.loads(manifest_path.read_text())
            smoke = manifest["smoke_run"]
            for record, step in zip(manifest["notebooks"], step_inputs(project, smoke), strict=False):
                record["key"], record["inputs"] = step.key, step.parts
            manifest_path.write_text(json.dumps(manifest))
        times = []
        mode = ["--fast"] if smoke else []  # a smoke export is up to date only for --fast
        for _ in range(repeats):
            seconds, out = portfolio(root, "run", *mode)
            assert out.count("up to date") == copies, out
            times.append(seconds)
        return {"copies": copies, "median_s": statistics.median(times), "runs": times,
                "kernel_starts": kernel_starts(root)}


def rerun_step4(source: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_portfolio(Path(tmp) / "folio")
        target = root / "portfolio/projects" / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".portfolio", "export",
                                                                      "prepared", "artifacts"))
        full, _ = portfolio(root, "run", "--fast", "--workers", "1")
        manifest = json.loads((target / "export/manifest.json").read_text())
        steps = {n["step"]: n["seconds"] for n in manifest["notebooks"]}
        share = (steps["04_improve_results"] + steps["05_present_results"]) / sum(steps.values())
        notebook = target / "notebooks/04_improve_results.ipynb"
        data = json.loads(notebook.read_text())
        data["metadata"]["portfolio"]["fast_parameters"]["search_iterations"] = 1
        notebook.write_text(json.dumps(data))
        rerun, out = portfolio(root, "run", "--fast", "--workers", "1")
        assert "running from 04_improve_results" in out, out
        return {"full_s": full, "rerun_s": rerun, "ratio": rerun / full, "steps_4_5_share": share}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", type=Path, default=REPO / "portfolio/projects/breast-cancer-mlp")
    args = parser.parse_args()
    load = os.getloadavg()
    result = noop(args.source, args.copies, args.repeats)
    lines = [f"- No-op `portfolio run` over {result['copies']} exported projects: median "
             f"**{result['median_s']:.2f} s** of {len(result['runs'])} runs (target ≤ 1 s); "
             f"kernels started: {result['kernel_starts']}."]
    print(lines[-1], flush=True)
    rerun = rerun_step4(args.source)
    lines.append(f"- Fast run of one project ({args.source.name}): {rerun['full_s']:.1f} s; "
                 f"re-run after a change in step 4: {rerun['rerun_s']:.1f} s = "
                 f"**{rerun['ratio']:.0%}** of the full run (target: at most the share of "
                 f"steps 4-5 in its notebook time, {rerun['steps_4_5_share']:.0%}).")
    print(lines[-1])
    command = "python benchmarks/run_cache.py" + "".join(f" {a}" for a in sys.argv[1:])
    section = "\n".join(["## What `portfolio run` costs when little changed", "",
                         f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')}) on "
                         f"{os.cpu_count()} cores, load average at the start "
                         f"{', '.join(f'{x:.1f}' for x in load)}:", "", *lines])
    write_section("run-cache", section)


if __name__ == "__main__":
    main()
