"""A full run of a shipped example project under a Keras backend, on the CPU or a GPU.

    python benchmarks/backend_runs.py run --backend jax --out benchmarks/backend_runs/cpu-jax.json
    python benchmarks/backend_runs.py wheels [--dest .whl] [--python-version 3.12]
    python benchmarks/backend_runs.py report [FILE ...]

`run` copies the shipped example portfolio to a temporary folder (the shipped export stays as
it is), runs `portfolio run --backend B --force --workers 1 PROJECT` in full, and writes the
whole command's time, the device and backend the manifest recorded, the time of each step and
the test score to --out (JSON). `--cpu` hides any GPU from the backend; `--fast` makes it a
fast run, to check a setup.

`wheels` gathers what `portfolio run` needs on a machine with no network that already has JAX
and the scientific Python stack but not Keras, Jupyter or the kit (a GPU machine with a
PyTorch/JAX image): a wheel of the kit, and a wheel of each package that running the notebooks
needs and that machine lacks, at the versions installed here, for that machine's Python.
Install them there with

    pip install --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site

`report` writes the results (by default every file in benchmarks/backend_runs/) as the
"backends" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "backend_runs"
sys.path.insert(0, str(REPO / "benchmarks"))
from docs_section import write_section  # noqa: E402

sys.path.insert(0, str(REPO))
from site_builder import registry  # noqa: E402

# What `portfolio run` imports, in its own process and in the notebooks' kernels.
RUN_NEEDS = (
    "click", "pydantic", "pyyaml", "rich", "filelock", "markdown", "nh3", "nbformat", "nbclient",
    "papermill", "jupyter-client", "ipykernel", "keras", "scikit-learn", "scikeras", "pandas",
    "numpy", "matplotlib", "pillow", "statsmodels",
)
# What the GPU machines' image already holds, of the packages above and what they need
# (its full list: the device tool's KINDS.md). Whatever only these need is left out too.
THERE = (
    "absl-py", "attrs", "certifi", "charset-normalizer", "click", "contourpy", "cycler",
    "filelock", "fonttools", "h5py", "idna", "jax", "jaxlib", "jinja2", "joblib", "kiwisolver",
    "markdown", "markdown-it-py", "markupsafe", "matplotlib", "mdurl", "ml-dtypes", "numpy",
    "packaging", "pandas", "patsy", "pillow", "psutil", "pygments", "pyparsing",
    "python-dateutil", "pyyaml", "requests", "rich", "scikit-learn", "scipy", "six",
    "statsmodels", "threadpoolctl", "typing-extensions", "urllib3",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _resolve(requirements: list[str], python_version: str) -> dict[str, str]:
    """Every package (name: version) pip would install for these, on the target's Python."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
             "--only-binary=:all:", "--python-version", python_version, "--implementation",
             "cp", *(f"--platform={p}" for p in PLATFORMS), "--target", str(Path(tmp) / "t"),
             "--report", str(report), *requirements],
            check=True,
        )
        items = json.loads(report.read_text())["install"]
    return {_normal(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def wheels(dest: Path, python_version: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    pinned = [f"{name}=={metadata.version(name)}" for name in RUN_NEEDS]
    needed = _resolve(pinned, python_version)
    # The image's own packages and what they need (resolved the same way, names only).
    there = set(_resolve(list(THERE), python_version))
    carry = sorted(f"{name}=={version}" for name, version in needed.items() if name not in there)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", python_version, "--implementation", "cp",
         *(f"--platform={p}" for p in PLATFORMS), "--dest", str(dest), *carry],
        check=True,
    )
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--no-build-isolation", "--wheel-dir", str(dest), str(REPO)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"building the kit's wheel failed:\n{built.stdout}{built.stderr}")
    size = sum(p.stat().st_size for p in dest.glob("*.whl"))
    print(f"{len(list(dest.glob('*.whl')))} wheels, {size / 2**20:.1f} MiB in {dest}:")
    print(" ".join(carry + ["dl-portfolio-kit"]))


def run(backend: str, project: str, out: Path, label: str, cpu: bool, fast: bool) -> None:
    env = dict(os.environ)
    if cpu:
        env.update(JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "portfolio", root / "portfolio")
        shutil.copy2(REPO / "mkdocs.yml", root / "mkdocs.yml")
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "site_builder", "run", "--backend", backend, "--force",
             "--workers", "1", *(["--fast"] if fast else []), project],
            cwd=root, env=env, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"portfolio run failed:\n{done.stdout}{done.stderr}")
        export = root / "portfolio/projects" / project / "export"
        manifest = json.loads((export / "manifest.json").read_text())
        metrics = json.loads((export / "metrics.json").read_text())
    result = {
        "label": label + (" (fast run)" if fast else ""),
        "project": project,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load": [round(x, 1) for x in os.getloadavg()],
        "backend": manifest["backend"],
        "device": manifest["device"],
        "versions": manifest["versions"],
        "seconds": round(seconds, 1),
        "notebooks_seconds": manifest["seconds"],
        "steps": {n["step"]: n["seconds"] for n in manifest["notebooks"]},
        "primary": metrics["primary"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def report(paths: list[Path]) -> None:
    results = [json.loads(p.read_text()) for p in paths]
    rows = ["| where | device (manifest) | backend | whole run, s | steps 1-5, s | test "
            "score |", "|---|---|---|---:|---|---:|"]
    for r in results:
        steps = ", ".join(f"{s:.1f}" for s in r["steps"].values())
        versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        rows.append(f"| {r['label']} ({r['cpus']} cores, load {r['load'][0]}; {r['date']}; {versions}) | "
                    f"{r['device']} | {r['backend']} | **{r['seconds']:.1f}** | {steps} | "
                    f"{r['primary']['name']} {r['primary']['value']:.4f} |")
    print("\n".join(rows))
    project = results[0]["project"]
    config = yaml.safe_load((REPO / "portfolio/projects" / project / "project.yml").read_text())
    reference = registry.reference(config["dataset"]["name"], config["dataset"]["source"],
                                   config["metric"]["name"])
    section = "\n".join([
        "## A full run under another Keras backend", "",
        "`python benchmarks/backend_runs.py run --backend BACKEND --out FILE` runs the shipped "
        f"example `{project}` in full (`portfolio run --backend BACKEND --force --workers 1 "
        f"{project}` on a copy of `portfolio/`), one row per run; `python "
        "benchmarks/backend_runs.py report` writes this table from the results kept in "
        "`benchmarks/backend_runs/`. The device is the one the notebooks reported in the "
        "run's manifest; the test score is the primary metric on the held-out test set "
        f"(published reference: {reference['value']}, {reference['model']}).", "", *rows])
    if not any(r["device"].startswith("GPU") for r in results):
        section += ("\n\nNo run on a GPU yet: on a GPU machine, `python benchmarks/backend_runs.py "
                    "run --backend jax --label \"GPU machine\" --out "
                    "benchmarks/backend_runs/gpu-jax.json`, then `report`.")
    write_section("backends", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("--backend", default="jax")
    run_parser.add_argument("--project", default="digits-cnn")
    run_parser.add_argument("--label", default="this machine")
    run_parser.add_argument("--cpu", action="store_true", help="hide any GPU from the backend")
    run_parser.add_argument("--fast", action="store_true", help="a fast run, to check the setup")
    run_parser.add_argument("--out", type=Path, required=True)
    wheels_parser = commands.add_parser("wheels")
    wheels_parser.add_argument("--dest", type=Path, default=REPO / ".whl")
    wheels_parser.add_argument("--python-version", default="3.12")
    report_parser = commands.add_parser("report")
    report_parser.add_argument("results", type=Path, nargs="*")
    args = parser.parse_args()
    if args.command == "run":
        run(args.backend, args.project, args.out, args.label, args.cpu, args.fast)
    elif args.command == "wheels":
        wheels(args.dest, args.python_version)
    else:
        report(args.results or sorted(RESULTS.glob("*.json")))


if __name__ == "__main__":
    main()
