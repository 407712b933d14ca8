"""What CI pays to deploy: a clean virtual environment with the kit's base install (no
training stack), then `portfolio build` of the shipped portfolio from cold (target: under
60 s in all).

    python benchmarks/light_install.py

pip uses this machine's configuration and cache, as a CI runner with a pip cache would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from docs_section import write_section  # noqa: E402

HEAVY = ("tensorflow", "keras", "torch", "jax")


def timed(*command: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - t0


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def kit_copy(work: Path) -> Path:
    """The repository's files that git tracks or would track: pip builds in the source
    folder, whose build/ is the portfolio's own."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    kit = work / "kit"
    for rel in listed:
        source = REPO / rel
        if source.is_file():
            (kit / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, kit / rel)
    return kit


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        venv = work / "venv"
        python, portfolio = venv / "bin" / "python", venv / "bin" / "portfolio"
        create = timed(sys.executable, "-m", "venv", str(venv), cwd=work)
        install = timed(str(python), "-m", "pip", "install", "--quiet", str(kit_copy(work)),
                        cwd=work)
        site = work / "site-root"
        site.mkdir()
        shutil.copy(REPO / "mkdocs.yml", site)
        shutil.copytree(REPO / "portfolio", site / "portfolio")
        build = timed(str(portfolio), "build", cwd=site)
        # The other commands CI or a writer needs run on the base install too (check exits 1
        # on findings; an import missing from the base is a traceback).
        for command in ([str(portfolio), "check"],
                        [str(python), "-c", "import site_builder.serve, site_builder.publish"]):
            done = subprocess.run(command, cwd=site, capture_output=True, text=True)
            if done.returncode not in (0, 1) or "Traceback" in done.stderr:
                raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"],
                                capture_output=True, text=True, check=True).stdout
        packages = [line.split("==")[0].lower() for line in listed.splitlines()]
        heavy = [name for name in packages if name in HEAVY]
        if heavy:
            raise SystemExit(f"the base install brought in {', '.join(heavy)}")
        venv_mb = size_mb(venv)
    total = create + install + build
    body = "\n".join([
        "## What CI pays to deploy: the light install and a cold build",
        "",
        "A clean virtual environment, `pip install` of the kit's base requirements (no "
        "TensorFlow, Keras, torch or JAX), then `portfolio build` of the shipped portfolio "
        "from cold, as the workflow that `portfolio init` writes does "
        "(`python benchmarks/light_install.py`, two cores, pip's cache warm).",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| create the virtual environment | {create:.1f} |",
        f"| pip install the kit ({len(packages)} packages, {venv_mb:.0f} MB) | {install:.1f} |",
        f"| portfolio build (cold) | {build:.1f} |",
        f"| **total** (target: under 60) | **{total:.1f}** |",
    ])
    write_section("light-install", body)
    print(body)


if __name__ == "__main__":
    main()
