"""Training side by side: `pf.in_parallel` and `pf.processes`, and what `portfolio run` sets."""

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from site_builder import notebook as pf
from site_builder.errors import PortfolioError
from site_builder.runner import RunOptions, notebook_processes


def _slow_square(number, log):
    with open(log, "a") as file:
        file.write(f"{number}\n")
    time.sleep(0.3)
    return number * number, os.getpid()


def _fail(number):
    if number == 1:
        raise ValueError(f"fold {number} has no rows of class 'b'")
    return number


def test_results_come_in_the_order_of_the_tasks_from_processes_of_their_own(tmp_path):
    log = tmp_path / "started.txt"
    results = list(pf.in_parallel(_slow_square, [(n, log) for n in range(5)], workers=2))
    assert [square for square, _ in results] == [0, 1, 4, 9, 16]
    pids = {pid for _, pid in results}
    assert len(pids) == 2 and os.getpid() not in pids


def test_leaving_the_loop_starts_no_other_task_and_keeps_the_processes(tmp_path):
    log = tmp_path / "started.txt"
    first = []
    for square, pid in pf.in_parallel(_slow_square, [(n, log) for n in range(8)], workers=2):
        first.append(pid)
        if square == 1:
            break
    # Tasks 0 and 1 ran, and at most the two started as they finished; none after the loop.
    started = sorted(int(line) for line in log.read_text().split())
    assert started[:2] == [0, 1] and len(started) <= 4
    time.sleep(0.8)
    assert sorted(int(line) for line in log.read_text().split()) == started
    again = {pid for _, pid in pf.in_parallel(_slow_square, [(n, log) for n in range(2)],
                                              workers=2)}
    assert set(first) <= again  # the same processes: no new import of their libraries


def test_a_task_that_fails_raises_its_own_error_here():
    with pytest.raises(ValueError, match="fold 1 has no rows of class 'b'"):
        list(pf.in_parallel(_fail, [(n,) for n in range(3)], workers=2))


def test_one_worker_runs_the_tasks_here_one_after_the_other(tmp_path):
    log = tmp_path / "started.txt"
    results = list(pf.in_parallel(_slow_square, [(n, log) for n in range(3)], workers=1))
    assert results == [(0, os.getpid()), (1, os.getpid()), (4, os.getpid())]


@pytest.mark.parametrize("value", ["0", "two", "-1", " 2", "²", "2\n"])
def test_a_bad_number_of_processes_is_one_line_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("PORTFOLIO_PROCESSES", value)
    with pytest.raises(ValueError) as error:
        pf.processes()
    assert str(error.value) == (f"PORTFOLIO_PROCESSES: expected a whole number of at least 1, "
                                f"got {value!r}")
    with pytest.raises(PortfolioError) as error:
        notebook_processes(RunOptions())
    assert error.value.message == (f"PORTFOLIO_PROCESSES: expected a whole number of at least 1, "
                                   f"got {value!r}")


def test_a_fast_run_trains_in_one_process_and_a_full_run_in_the_cores_given(monkeypatch):
    monkeypatch.delenv("PORTFOLIO_PROCESSES", raising=False)
    assert notebook_processes(RunOptions(fast=True, processes=2)) == 1
    assert notebook_processes(RunOptions(processes=2)) == 2
    assert notebook_processes(RunOptions()) is None  # a notebook outside `_dispatch`: its own
    monkeypatch.setenv("PORTFOLIO_PROCESSES", "3")
    assert notebook_processes(RunOptions(fast=True, processes=2)) == 3
    monkeypatch.setenv("PORTFOLIO_PROCESSES", "1")
    assert pf.processes() == 1


def _fit(callback, epochs):
    callback.params = {"epochs": epochs}
    callback.on_train_begin()
    callback.on_epoch_end(epochs - 1)
    return os.getpid()


def test_fits_are_counted_across_the_processes_that_train_them(tmp_path, monkeypatch):
    progress = tmp_path / "03_evaluate_algorithms.txt"
    monkeypatch.setenv("PORTFOLIO_PROGRESS", str(progress))
    callback = pf.fit_progress("Keras MLP", fits=4)
    pids = [pid for pid in pf.in_parallel(_fit, [(callback, 3)] * 4, workers=2)]
    assert len(set(pids)) == 2
    assert sorted(progress.read_text().splitlines()) == [
        f"Keras MLP: fit {k}/4, epoch 3/3" for k in range(1, 5)]
    pf.fit_progress("Keras MLP", fits=4)  # a new count for the label
    _fit(pf.fit_progress("other"), 1)
    list(pf.in_parallel(_fit, [(callback, 1)], workers=1))
    assert progress.read_text().splitlines()[-2:] == ["other: fit 1, epoch 1/1",
                                                      "Keras MLP: fit 1/4, epoch 1/1"]


def test_the_notebooks_train_side_by_side_in_the_search_of_step_4():
    notebooks = Path(__file__).parents[1] / "template" / "{{cookiecutter.project_slug}}" / "_notebooks"
    uses = {
        str(path.relative_to(notebooks)): "pf.in_parallel" in path.read_text()
        or "n_jobs=pf.processes()" in path.read_text()
        for path in sorted(notebooks.glob("*/0*.ipynb"))
    }
    assert sorted(name for name, used in uses.items() if used) == [
        "image-classification/04_improve_results.ipynb",
        "tabular-classification/04_improve_results.ipynb",
        "tabular-regression/04_improve_results.ipynb",
        "time-series-forecasting/04_improve_results.ipynb",
    ]


def test_a_search_in_two_processes_finds_what_one_finds(portfolio_root, tmp_path, monkeypatch):
    """A new classification project run twice, its search's folds fitted in two processes and
    then in one: the same metrics to the last digit, and nothing of the processes in step 4."""
    from .conftest import cli, heart_csv

    data = heart_csv(tmp_path / "heart.csv")
    result = cli(portfolio_root, "new", "Heart", "--problem", "tabular-classification",
                 "--data", str(data), "--target", "disease", "--no-input")
    assert result.exit_code == 0, result.output
    project = portfolio_root / "portfolio" / "projects" / "heart"
    metrics = {}
    for processes in ("2", "1"):
        monkeypatch.setenv("PORTFOLIO_PROCESSES", processes)
        result = cli(portfolio_root, "run", "--fast", "--force", "--workers", "1", "heart")
        assert result.exit_code == 0, result.output
        records = json.loads((project / "export" / "metrics.json").read_text())["metrics"]
        metrics[processes] = {(r["name"], r["split"], r.get("model")): r["value"] for r in records}
        step4 = nbformat.read(project / "export" / "notebooks" / "04_improve_results.ipynb", 4)
        streams = [o for c in step4.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream" and o.name == "stderr"]
        assert streams == []
    assert any(model and "MLP" in model for _, _, model in metrics["2"])
    assert metrics["2"] == metrics["1"]


@pytest.mark.parametrize(("cores", "processes"), [(1, 1), (2, 1), (3, 1), (4, 2), (16, 8)])
def test_one_process_trains_per_two_cores(cores, processes):
    assert pf.processes_for(cores) == processes


def test_no_more_processes_than_cores_start(monkeypatch):
    monkeypatch.setenv("PORTFOLIO_PROCESSES", "100000")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert pf.processes() == 1


def test_forget_stops_the_processes_for_the_next_notebook_on_the_kernel(tmp_path):
    import psutil

    log = tmp_path / "started.txt"
    pids = {pid for _, pid in pf.in_parallel(_slow_square, [(n, log) for n in range(2)],
                                             workers=2)}
    assert all(psutil.pid_exists(pid) for pid in pids)
    pf.forget()
    time.sleep(0.5)
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                   for pid in pids)
    again = {pid for _, pid in pf.in_parallel(_slow_square, [(n, log) for n in range(2)],
                                              workers=2)}
    assert again.isdisjoint(pids)


def _count(label, times):
    return [pf._count_fit(label) for _ in range(times)]


def test_fit_numbers_are_distinct_when_processes_start_fits_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_PROGRESS", str(tmp_path / "04_improve_results.txt"))
    pf._count_fit("trial 1/2", start=True)
    numbers = [n for part in pf.in_parallel(_count, [("trial 1/2", 150)] * 4, workers=2)
               for n in part]
    assert sorted(numbers) == list(range(1, 601))


def test_the_processes_keep_their_number_whatever_the_number_of_tasks(tmp_path):
    log = tmp_path / "started.txt"
    both = {pid for _, pid in pf.in_parallel(_slow_square, [(n, log) for n in range(2)],
                                             workers=2)}
    one = {pid for _, pid in pf.in_parallel(_slow_square, [(0, log)], workers=2)}
    again = {pid for _, pid in pf.in_parallel(_slow_square, [(n, log) for n in range(2)],
                                              workers=2)}
    assert one <= both and again == both


KERNEL = """
import sys, time
from site_builder import notebook as pf
from tests.test_parallel import _slow_square
pids = {pid for _, pid in pf.in_parallel(_slow_square, [(n, sys.argv[1]) for n in range(2)],
                                         workers=2)}
print(*pids, flush=True)
time.sleep(60)
"""


def test_the_processes_end_with_the_kernel_killed_under_them(tmp_path):
    import signal
    import subprocess
    import sys

    import psutil

    kernel = subprocess.Popen([sys.executable, "-c", KERNEL, str(tmp_path / "log.txt")],
                              stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    pids = [int(pid) for pid in kernel.stdout.readline().split()]
    assert len(pids) == 2 and all(psutil.pid_exists(pid) for pid in pids)
    kernel.send_signal(signal.SIGKILL)
    kernel.wait()
    kernel.stdout.close()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if psutil.pid_exists(pid)
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    assert alive == []
