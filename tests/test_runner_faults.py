"""The runner on tiny projects: parallel and Dask runs, keep-going, faults, the lock, status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from site_builder.layout import Portfolio
from site_builder.locking import portfolio_lock

from .conftest import cli, make_portfolio, tree
from .tiny import make_tiny

pytestmark = pytest.mark.kernel


def exported(root: Path, slug: str) -> dict:
    export = root / "portfolio/projects" / slug / "export"
    return {
        "metrics": json.loads((export / "metrics.json").read_text()),
        "files": sorted(str(p.relative_to(export)) for p in export.rglob("*") if p.is_file()),
        "figures": {p.name: p.read_bytes() for p in (export / "figures").iterdir()},
        "keys": [n["key"] for n in json.loads((export / "manifest.json").read_text())["notebooks"]],
    }


def test_tiny_project_exports_and_parallel_matches_dask(tmp_path):
    from distributed import LocalCluster

    local, remote = make_portfolio(tmp_path / "local"), make_portfolio(tmp_path / "dask")
    for root in (local, remote):
        make_tiny(root, "alpha")
        make_tiny(root, "beta")
    result = cli(local, "run", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert sorted(result.output.splitlines()) == sorted(
        line for slug in ("alpha", "beta") for line in result.output.splitlines()
        if line.startswith(slug))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        result = cli(remote, "run", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    for slug in ("alpha", "beta"):
        here, there = exported(local, slug), exported(remote, slug)
        assert here["metrics"] == there["metrics"]
        assert here["files"] == there["files"] == [
            "figures/05_present_results-1.png", "manifest.json", "metrics.json",
            "model/README.md", "model/model.txt", *(f"notebooks/{s}.ipynb" for s in (
                "01_define_problem", "02_prepare_data", "03_evaluate_algorithms",
                "04_improve_results", "05_present_results"))]
        assert here["figures"] == there["figures"]
        assert here["keys"] == there["keys"]
        assert here["metrics"]["primary"]["value"] == 0.75


def test_keep_going_finishes_the_others_and_still_fails(portfolio_root):
    make_tiny(portfolio_root, "alpha", {"03_evaluate_algorithms": "1 / 0"})
    make_tiny(portfolio_root, "beta")
    result = cli(portfolio_root, "run", "--workers", "1", "--keep-going")
    assert result.exit_code == 1
    assert "Error: alpha: notebooks/03_evaluate_algorithms.ipynb: cell 4: ZeroDivisionError: " \
           "division by zero" in result.output
    assert result.output.endswith("Error: 1 of 2 project(s) failed\n")
    assert (portfolio_root / "portfolio/projects/beta/export/metrics.json").is_file()
    assert not (portfolio_root / "portfolio/projects/alpha/export").exists()


def test_cell_timeout_ends_the_project_and_keeps_the_export(portfolio_root):
    project = make_tiny(portfolio_root, "alpha")
    assert cli(portfolio_root, "run", "--workers", "1").exit_code == 0
    before = tree(project / "export")
    nb = project / "notebooks/04_improve_results.ipynb"
    nb.write_text(nb.read_text().replace("depth = 3", "depth = 4\\nimport time; time.sleep(60)"))
    result = cli(portfolio_root, "run", "--timeout", "3")
    assert result.exit_code == 1
    assert "Error: alpha: notebooks/04_improve_results.ipynb: cell 2: ran longer than the 3 s " \
           "timeout; stopped\n" in result.output
    assert tree(project / "export") == before
    assert not (project / ".portfolio/staging").exists()
    state = json.loads((project / ".portfolio/state.json").read_text())
    assert state["failed"] == {"message": "alpha: notebooks/04_improve_results.ipynb: cell 2: ran "
                                          "longer than the 3 s timeout; stopped",
                               "step": "04_improve_results", "cell": 2, "log": None}


def test_a_dying_kernel_ends_the_project_and_keeps_the_export(portfolio_root):
    project = make_tiny(portfolio_root, "alpha")
    assert cli(portfolio_root, "run").exit_code == 0
    before = tree(project / "export")
    nb = project / "notebooks/02_prepare_data.ipynb"
    nb.write_text(nb.read_text().replace("rows = 10", "rows = 11\\nimport os; os._exit(1)"))
    result = cli(portfolio_root, "run")
    assert result.exit_code == 1
    assert "Error: alpha: notebooks/02_prepare_data.ipynb: cell 2: the kernel died (it crashed " \
           "or ran out of memory)\n" in result.output
    assert tree(project / "export") == before


def _as_in_a_terminal() -> None:
    """Ctrl-C as a shell gives it to a command: a test worker process can hand its children
    SIGINT ignored or blocked (both survive exec), and the command would never see it."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_with_one_line_and_keeps_the_export(portfolio_root):
    project = make_tiny(portfolio_root, "alpha")
    assert cli(portfolio_root, "run").exit_code == 0
    before = tree(project / "export")
    nb = project / "notebooks/03_evaluate_algorithms.ipynb"
    nb.write_text(nb.read_text().replace(
        '"seed = None"', '"seed = None\\nopen(\'started\', \'w\').close()\\n'
                         'import time; time.sleep(60)"'))
    process = subprocess.Popen([sys.executable, "-m", "site_builder", "run"], cwd=portfolio_root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_as_in_a_terminal)
    marker = project / "notebooks/started"
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip().splitlines()[-1] == (
        "Error: interrupted: the running projects were stopped; their previous exports are kept")
    marker.unlink()
    assert tree(project / "export") == before
    assert not (project / ".portfolio/staging").exists()


def test_a_second_run_on_a_busy_portfolio_says_so(portfolio_root):
    make_tiny(portfolio_root, "alpha")
    with portfolio_lock(Portfolio(portfolio_root), "run"):
        result = cli(portfolio_root, "run")
    assert result.exit_code == 1
    assert result.output == ("Error: .portfolio/lock: the portfolio is busy (another 'portfolio "
                             "run' or 'portfolio build' holds the lock); try again when it ends\n")


def test_status_table_says_where_each_project_stands(portfolio_root, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    make_tiny(portfolio_root, "alpha")
    make_tiny(portfolio_root, "beta")
    make_tiny(portfolio_root, "gamma", {"03_evaluate_algorithms": "1 / 0"})
    assert cli(portfolio_root, "run", "alpha", "--workers", "1").exit_code == 0
    assert cli(portfolio_root, "run", "gamma", "--workers", "1").exit_code == 1
    nb = portfolio_root / "portfolio/projects/alpha/notebooks/04_improve_results.ipynb"
    nb.write_text(nb.read_text().replace("depth = 3", "depth = 5"))
    result = cli(portfolio_root, "status")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[1:-1]]
            for line in result.output.splitlines() if line.startswith("│")
            and line.split("│")[1].strip() in ("alpha", "beta", "gamma")}
    assert rows["alpha"][2:6] == ["5/5", "stale: 04_improve_results: notebook code changed",
                                  "accuracy 0.750", "0.500"]
    assert rows["beta"][2:4] == ["0/5", "never run"]
    assert rows["gamma"][3] == "failed (03_evaluate_algorithms, cell 4)"
    log = portfolio_root / "portfolio/projects/gamma/.portfolio/logs/03_evaluate_algorithms.log"
    assert result.output.splitlines()[-1] == (
        "Last run failed: gamma: notebooks/03_evaluate_algorithms.ipynb: cell 4: "
        f"ZeroDivisionError: division by zero (traceback in {log})")


def test_a_failure_undone_is_no_longer_reported_once_the_export_is_current(portfolio_root,
                                                                           monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    make_tiny(portfolio_root, "alpha")
    assert cli(portfolio_root, "run", "alpha", "--workers", "1").exit_code == 0
    nb = portfolio_root / "portfolio/projects/alpha/notebooks/04_improve_results.ipynb"
    working = nb.read_text()
    nb.write_text(working.replace("depth = 3", "depth = 1 / 0"))
    assert cli(portfolio_root, "run", "alpha", "--workers", "1").exit_code == 1
    assert "failed (04_improve_results" in cli(portfolio_root, "status").output
    nb.write_text(working)
    result = cli(portfolio_root, "run", "alpha", "--workers", "1")
    assert (result.exit_code, result.output) == (0, "alpha: up to date, nothing to run\n")
    status = cli(portfolio_root, "status").output
    assert "failed" not in status and "Last run failed" not in status
    assert "│ fresh" in status


def test_an_invalid_project_yml_is_named_and_the_others_still_run(portfolio_root):
    bad = make_tiny(portfolio_root, "alpha")
    (bad / "project.yml").write_text((bad / "project.yml").read_text().replace("seed: 1", "seed: one"))
    make_tiny(portfolio_root, "beta")
    result = cli(portfolio_root, "run", "--workers", "1")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == ("Error: portfolio/projects/alpha/project.yml: field "
                                             "'seed': Input should be a valid integer, unable to "
                                             "parse string as an integer")
    assert result.output.endswith("beta: exported in " + result.output.split(
        "beta: exported in ")[1].split("\n")[0] + "\nError: 1 of 2 project(s) failed\n")
    assert (portfolio_root / "portfolio/projects/beta/export/metrics.json").is_file()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_killed_run_leaves_no_process_behind(portfolio_root, workers):
    import psutil

    sleep = "open('started', 'w').close()\nimport time; time.sleep(120)"
    for slug in ("alpha", "beta"):
        make_tiny(portfolio_root, slug, {"03_evaluate_algorithms": sleep})
    process = subprocess.Popen([sys.executable, "-m", "site_builder", "run", "--workers", workers],
                               cwd=portfolio_root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    markers = [portfolio_root / f"portfolio/projects/{s}/notebooks/started" for s in ("alpha", "beta")]
    deadline = time.monotonic() + 120
    while sum(m.exists() for m in markers) < int(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    # the worker processes, the running kernels and those started ahead
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 3 * int(workers)
    process.send_signal(signal.SIGKILL)
    process.wait()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:
        child.kill()
    assert alive == []


def test_a_corrupt_manifest_is_replaced_by_running_every_step(portfolio_root):
    """A corrupt record of the last run is no record: the run that replaces it is the way
    out (check and status still name the file until then)."""
    make_tiny(portfolio_root, "alpha")
    assert cli(portfolio_root, "run").exit_code == 0
    manifest = portfolio_root / "portfolio/projects/alpha/export/manifest.json"
    manifest.write_text("{corrupt")
    status = cli(portfolio_root, "status")
    assert status.exit_code == 1
    assert "portfolio/projects/alpha/export/manifest.json: not valid JSON" in status.output
    result = cli(portfolio_root, "run")
    assert result.exit_code == 0, result.output
    assert "portfolio/projects/alpha/export/manifest.json: not valid JSON (Expecting property " \
           "name enclosed in double quotes: line 1 column 2 (char 1)); every step runs again" \
           in result.output
    assert [n["executed"] for n in json.loads(manifest.read_text())["notebooks"]] == [True] * 5
