"""How long a full run of each shipped example takes, step by step, and what the search of
step 4 buys against the one it replaced.

The four examples are copied out of portfolio/ (never run in place) and each is run in full
with `portfolio run --force --workers 1`, one after the other. The wall time of each step is
the manifest's; its CPU time is its kernel's (the k-th kernel a run starts is step k's, as
kernels are started in step order), read every half second while it runs. Then, on the same
data, split, seed and folds, each example as it was at `--old REV` (the random search with
fixed epochs) is run in full right after it, and its step 4 time and cross-validated score
are set against the new search's. The load average at the start is recorded: the machine is shared.

A new image project on a folder of the 1,797 digits as 32-pixel PNG files is run in full too.

    python benchmarks/full_runs.py [--examples breast-cancer-mlp,...] [--old fb753f3]
    python benchmarks/full_runs.py --no-old --old-from benchmarks/full_runs.json --json FILE
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from docs_section import write_section  # noqa: E402

EXAMPLES = {"breast-cancer-mlp": "tabular-classification", "diabetes-mlp": "tabular-regression",
            "digits-cnn": "image-classification", "sunspots-lstm": "time-series-forecasting"}
STEP4 = "04_improve_results"


class KernelClock(threading.Thread):
    """The CPU seconds of every kernel below a process, in the order they were started."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root, self.cpu, self.started = psutil.Process(pid), {}, {}
        self.helpers: dict[tuple[int, int], float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            try:
                children = self.root.children(recursive=True)
            except psutil.Error:
                return
            for child in children:
                try:
                    times = child.cpu_times()
                    if "ipykernel" in " ".join(child.cmdline()):
                        self.started.setdefault(child.pid, child.create_time())
                        self.cpu[child.pid] = times.user + times.system
                        continue
                    # A process a kernel started (`pf.in_parallel`'s): its CPU is the step's.
                    kernel = next((p.pid for p in child.parents() if p.pid in self.started), None)
                    if kernel is not None:
                        self.helpers[(kernel, child.pid)] = times.user + times.system
                except psutil.Error:
                    continue

    def per_kernel(self) -> list[float]:
        return [self.cpu[pid] + sum(cpu for (kernel, _), cpu in self.helpers.items()
                                    if kernel == pid)
                for pid in sorted(self.started, key=self.started.get)]


def run_in_full(root: Path, slug: str) -> dict:
    t0 = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "site_builder", "run", "--force",
                                "--workers", "1", slug], cwd=root, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    clock = KernelClock(process.pid)
    clock.start()
    output, _ = process.communicate()
    clock.done.set()
    clock.join()
    if process.returncode != 0:
        raise SystemExit(f"portfolio run {slug} failed:\n{output}")
    wall = time.perf_counter() - t0
    export = root / "portfolio/projects" / slug / "export"
    manifest = json.loads((export / "manifest.json").read_text())
    metrics = json.loads((export / "metrics.json").read_text())
    cpu = clock.per_kernel()
    return {
        "wall": round(wall, 1),
        "steps": {n["step"][:2]: {"wall": n["seconds"], "cpu": round(cpu[i], 1) if i < len(cpu)
                                  else None} for i, n in enumerate(manifest["notebooks"])},
        "test": metrics["primary"],
        "seed": manifest["seed"],
        "search": tuned(export / "notebooks"),
    }


def digits_folder(path: Path) -> Path:
    """scikit-learn's 1,797 digits as 32 x 32 PNG files, one folder per class: a user's image
    folder of the size the issue measured (8-bit grey, enlarged with a bicubic filter)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = path / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(image * 255 / 16).astype("uint8")
        Image.fromarray(pixels, "L").resize((32, 32), Image.Resampling.BICUBIC).save(
            folder / f"{i:04d}.png")
    return path


def run_image_folder(root: Path) -> dict:
    """A new image project made with `portfolio new --data` on the 32-pixel digits folder,
    run in full."""
    folder = digits_folder(root.parent / "digits32")
    made = subprocess.run([sys.executable, "-m", "site_builder", "new", "Digits folder",
                           "--problem", "image-classification", "--data", str(folder),
                           "--slug", "digits-folder", "--no-input"], cwd=root,
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise SystemExit(f"portfolio new failed:\n{made.stdout}{made.stderr}")
    return run_in_full(root, "digits-folder")


def cv_records(notebook: Path) -> list[dict]:
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            metric = output.get("data", {}).get("application/vnd.portfolio.metric+json")
            if metric and metric["split"] == "cv":
                found.append({"name": metric["name"], "value": metric["value"],
                              "model": metric.get("model") or ""})
    return found


def tuned(notebooks: Path) -> dict:
    """The cross-validated score of the network step 4 chose. Today's templates keep the
    best of step 3's untuned network and step 4's candidates on the same folds; the templates
    before them always kept step 4's tuned model."""
    found = cv_records(notebooks / f"{STEP4}.ipynb")
    if not found:
        raise SystemExit(f"{notebooks}: step 4 recorded no cross-validated score")
    kept = [m for m in found if m["model"].startswith("Tuned")]
    if kept and len(kept) == len(found):  # the earlier templates: one tuned model, kept
        return kept[0]
    untuned = [m for m in cv_records(notebooks / "03_evaluate_algorithms.ipynb")
               if m["model"].startswith(("Keras", "CNN"))]
    lower = found[0]["name"] in ("rmse", "mae", "log_loss")
    return (min if lower else max)(found + untuned, key=lambda m: m["value"])


def run_old(slug: str, rev: str) -> dict:
    """The example as it was at `rev` (its notebooks, models.py and project.yml), run in full
    in a portfolio of its own: the same data, split and seed, the search it had then."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "folio"
        root.mkdir()
        shutil.copy(REPO / "mkdocs.yml", root)
        archive = subprocess.run(["git", "archive", rev, "portfolio/profile.yml",
                                  f"portfolio/projects/{slug}"], cwd=REPO, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        shutil.rmtree(root / "portfolio/projects" / slug / "export", ignore_errors=True)
        return run_in_full(root, slug)


def table(results: dict, load: tuple[float, float, float], rev: str,
          old_load: list | None = None) -> str:
    lines = [
        "## How long a full run of each shipped example takes",
        "",
        f"`python benchmarks/full_runs.py`: each example copied out of `portfolio/` and run with "
        f"`portfolio run --force --workers 1`, one at a time, on {os.cpu_count()} cores; load "
        f"average at the start {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (1, 5, 15 min: the "
        "machine is shared, so times are noisy and CPU seconds are the steadier measure). "
        "Wall / CPU seconds per step; CPU is the step's kernel, its imports included.",
        "",
        "| example | whole run | 01 | 02 | 03 | 04 | 05 | test score (seed) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    total = 0.0
    for slug, r in results.items():
        if slug in EXAMPLES:
            total += r["wall"]
        steps = " | ".join(f"{s['wall']:.0f} / {s['cpu']:.0f}" if s["cpu"] is not None
                           else f"{s['wall']:.0f} / ?" for s in r["steps"].values())
        test = r["test"]
        lines.append(f"| {slug} | {r['wall']:.0f} s | {steps} | {test['name']} "
                     f"{test['value']:.4g} ({r['seed']}) |")
    lines += ["", f"All four examples: {total:.0f} s. `digits-folder` is a new project made "
              "with `portfolio new --data` on scikit-learn's 1,797 digits saved as 32 x 32 PNG "
              "files, one folder per class.", ""]
    searches = {s: r for s, r in results.items() if "old" in r}
    if searches:
        lines += [
            (f"From an earlier run of this script (load average {old_load[0]:.2f} at its start; "
             "`--old-from`), " if old_load else "Side by side in the same script run: ")
            + f"each example as it was at `{rev}` (a random "
            "search, every candidate trained for its full epochs on every fold), run in full "
            "right after the new one on the same data, split and seed. The folds are the same "
            "for the two tabular examples (5, stratified for classification); the earlier "
            "digits and sunspots notebooks cross-validated on 3 folds, today's on 5, so their "
            "CV scores compare only roughly. Step 4's wall / CPU seconds and the "
            "cross-validated score of the model each one chooses; the whole run's wall seconds "
            "and the test score.",
            "",
            "| example | before: whole run | before: step 4 | before: CV score | before: test | "
            "now: whole run | now: step 4 | now: CV score | now: test |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]

        def step4(r: dict) -> str:
            s4 = r["steps"].get("04", {})
            return f"{s4.get('wall', 0):.0f} / {s4.get('cpu') or 0:.0f}"

        for slug, r in searches.items():
            old = r["old"]
            lines.append(
                f"| {slug} | {old['wall']:.0f} s | {step4(old)} | {old['search']['name']} "
                f"{old['search']['value']:.5g} | {old['test']['value']:.4g} | {r['wall']:.0f} s | "
                f"{step4(r)} | {r['search']['name']} {r['search']['value']:.5g} | "
                f"{r['test']['value']:.4g} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", default=",".join(EXAMPLES))
    parser.add_argument("--old", default="fb753f3",
                        help="the revision whose examples the new ones are set against")
    parser.add_argument("--no-old", action="store_true", help="skip the old search")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--no-image-folder", action="store_true",
                        help="skip the new project on a folder of 32-pixel digit images")
    parser.add_argument("--table-from", type=Path, metavar="JSON",
                        help="only write the table, from the figures of an earlier --json")
    parser.add_argument("--old-from", type=Path, metavar="JSON",
                        help="with --no-old: the old search's figures from an earlier --json")
    args = parser.parse_args()
    if args.table_from:
        saved = json.loads(args.table_from.read_text())
        body = table(saved["results"], tuple(saved["load"]), args.old, saved.get("old_load"))
        print(body)
        write_section("full-runs", body)
        return
    load = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "folio"
        root.mkdir()
        shutil.copy(REPO / "mkdocs.yml", root)
        shutil.copytree(REPO / "portfolio", root / "portfolio",
                        ignore=shutil.ignore_patterns(".portfolio", "export"))
        for slug in args.examples.split(","):
            results[slug] = run_in_full(root, slug)
            print(slug, json.dumps(results[slug]), flush=True)
            if not args.no_old:
                results[slug]["old"] = run_old(slug, args.old)
                print(slug, "old search", json.dumps(results[slug]["old"]), flush=True)
        if not args.no_image_folder:
            results["digits-folder"] = run_image_folder(root)
            print("digits-folder", json.dumps(results["digits-folder"]), flush=True)
    old_load = None
    if args.old_from:
        earlier = json.loads(args.old_from.read_text())
        old_load = earlier.get("old_load") or earlier["load"]
        for slug, r in results.items():
            if "old" in earlier["results"].get(slug, {}):
                r["old"] = earlier["results"][slug]["old"]
    if args.json:
        args.json.write_text(json.dumps({"load": load, "old_load": old_load, "results": results},
                                        indent=2))
    body = table(results, load, args.old, old_load)
    print(body)
    write_section("full-runs", body)


if __name__ == "__main__":
    main()
