"""Kernels started ahead of their notebooks: what they import, and that nothing else shows."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import psutil
import pytest

from site_builder.kernels import imported_modules

from .conftest import cli
from .tiny import make_tiny


def _notebook(*sources: str) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("import pandas")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    return json.loads(nbformat.writes(nb))


def test_imported_modules_are_the_installed_top_level_imports_in_order(tmp_path):
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "notebooks" / "models.py").write_text("X = 1\n")
    notebook = _notebook(
        "import json\n\nimport numpy as np, wave\nfrom sklearn.model_selection import KFold",
        "%matplotlib inline\nimport colorsys",
        "from models import X\nfrom . import sibling\nimport no_such_module_anywhere",
        "def later():\n    import sched\n\ntry:\n    import tomllib\nexcept ImportError:\n    pass",
        "import json\nfrom sklearn.model_selection import KFold",
    )
    assert imported_modules(notebook, project) == [
        "json", "numpy", "wave", "sklearn.model_selection"]


def test_what_the_projects_own_modules_import_is_imported_ahead_in_their_place(tmp_path):
    """models.py imports Keras: a notebook that imports only models.py still gets it loaded
    ahead (TensorFlow's seconds), but never models.py itself; a module it imports from the
    project is followed too, each once."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "notebooks" / "models.py").write_text(
        '"""Models."""\nimport colorsys\nfrom helpers import f\nimport models\n\n'
        "def g():\n    import sched\n")
    (project / "notebooks" / "helpers.py").write_text("import wave\nimport models\n")
    notebook = _notebook("import json\nfrom models import g\nimport models", "import tomllib")
    assert imported_modules(notebook, project) == ["json", "colorsys", "wave", "tomllib"]


def test_a_module_of_the_project_on_the_path_is_not_imported_ahead(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "notebooks" / "helpers.py").write_text("print('side effect')\n")
    monkeypatch.syspath_prepend(str(project / "notebooks"))
    assert imported_modules(_notebook("import helpers\nimport wave"), project) == ["wave"]


@pytest.fixture
def private_tmp(monkeypatch):
    """A temp folder of this test's own for the kernels' socket folders (tests run in
    parallel), with a short path (a Unix socket's path has at most 107 characters)."""
    folder = Path(tempfile.mkdtemp(prefix="pk-"))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _kernels_and_sockets(folder: Path) -> tuple[list[psutil.Process], list[Path]]:
    children = [p for p in psutil.Process().children(recursive=True)
                if "ipykernel" in " ".join(p.cmdline())]
    return children, sorted(folder.iterdir())


@pytest.mark.kernel
def test_imports_are_done_ahead_invisibly_and_every_kernel_is_stopped(portfolio_root,
                                                                     private_tmp):
    check = (
        'import sys\nprint([m for m in ("wave", "sched") if m in sys.modules])\n'
        "import wave\n\ndef later():\n    import sched"
    )
    project = make_tiny(portfolio_root, "alpha", {"03_evaluate_algorithms": check})
    result = cli(portfolio_root, "run", "--workers", "1", "alpha")
    assert result.exit_code == 0, result.output
    nb = nbformat.read(project / "export/notebooks/03_evaluate_algorithms.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # The import ran before the first cell, outside the history: counts start at 1.
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert [o.text for o in code[-1].outputs if o.output_type == "stream"] == ["['wave']\n"]
    assert _kernels_and_sockets(private_tmp) == ([], [])


@pytest.mark.kernel
def test_a_failing_step_stops_the_kernels_started_for_the_next_ones(portfolio_root,
                                                                   private_tmp):
    make_tiny(portfolio_root, "alpha", {"02_prepare_data": "1 / 0"})
    result = cli(portfolio_root, "run", "--workers", "1", "alpha")
    assert result.exit_code == 1
    assert "alpha: notebooks/02_prepare_data.ipynb: cell 4: ZeroDivisionError" in result.output
    assert _kernels_and_sockets(private_tmp) == ([], [])


def test_a_bad_number_of_kernels_ahead_is_one_line_and_runs_nothing(portfolio_root, monkeypatch):
    make_tiny(portfolio_root, "alpha")
    monkeypatch.setenv("PORTFOLIO_KERNELS_AHEAD", "two")
    result = cli(portfolio_root, "run", "alpha")
    assert result.exit_code == 1
    assert result.output == "Error: PORTFOLIO_KERNELS_AHEAD: expected a whole number, got 'two'\n"
    assert not (portfolio_root / "portfolio/projects/alpha/export").exists()


def test_in_a_fast_run_the_training_steps_share_a_kernel_and_so_do_the_others(portfolio_root):
    from site_builder.layout import Project
    from site_builder.runner import kernel_leaders

    imports = {step: "import keras" for step in ("03_evaluate_algorithms", "04_improve_results",
                                                 "05_present_results")}
    project = Project(make_tiny(portfolio_root, "alpha", imports))
    assert kernel_leaders(project, 0, fast=True) == [0, 0, 2, 2, 2]
    assert kernel_leaders(project, 0, fast=False) == [0, 1, 2, 3, 4]
    # A re-run from step 4 shares nothing with the steps it does not run.
    assert kernel_leaders(project, 3, fast=True) == [0, 1, 2, 3, 3]
    assert kernel_leaders(project, 2, fast=True) == [0, 1, 2, 2, 2]


SEEN = ("import os, sys\n"
        "print(os.getpid(), os.getcwd() == str(project.dir / 'notebooks'),\n"
        "      sorted(k for k in globals() if k.startswith('left')),\n"
        "      os.environ['PORTFOLIO_PROGRESS'].rsplit('/', 1)[-1])\n"
        "left_behind = 1\nos.chdir('/')\n"
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "plt.figure()\nprint(len(plt.get_fignums()))")


def _seen(project: Path, step: str) -> tuple[list[int], list[str]]:
    nb = nbformat.read(project / f"export/notebooks/{step}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    return ([c.execution_count for c in code],
            "".join(o.text for o in code[-1].outputs if o.output_type == "stream").split())


@pytest.mark.kernel
def test_a_shared_kernel_is_reset_between_notebooks_as_a_fresh_one(portfolio_root, private_tmp):
    """One kernel, five notebooks: each starts with no variable, figure or working folder of
    the one before, counts from 1 and reports its progress as its own; then it is stopped."""
    project = make_tiny(portfolio_root, "alpha", {step: SEEN for step in
                                                  ("01_define_problem", "02_prepare_data",
                                                   "05_present_results")})
    result = cli(portfolio_root, "run", "--fast", "--workers", "1", "alpha")
    assert result.exit_code == 0, result.output
    first, second, last = (_seen(project, step) for step in
                           ("01_define_problem", "02_prepare_data", "05_present_results"))
    assert first[0] == second[0] == [1, 2, 3]
    assert first[1][1:] == ["True", "[]", "01_define_problem.txt", "1"]
    assert second[1][1:] == ["True", "[]", "02_prepare_data.txt", "1"]
    assert last[1][1:] == ["True", "[]", "05_present_results.txt", "2"]  # its own and this
    assert first[1][0] == second[1][0] == last[1][0]  # the same kernel process
    assert _kernels_and_sockets(private_tmp) == ([], [])

    # A full run, or PORTFOLIO_SHARED_KERNELS=0, gives each notebook its own.
    for args, env in ((["--force"], None), (["--fast", "--force"], "0")):
        if env:
            os.environ["PORTFOLIO_SHARED_KERNELS"] = env
        try:
            result = cli(portfolio_root, "run", "--workers", "1", *args, "alpha")
        finally:
            os.environ.pop("PORTFOLIO_SHARED_KERNELS", None)
        assert result.exit_code == 0, result.output
        pids = {_seen(project, step)[1][0] for step in ("01_define_problem", "02_prepare_data")}
        assert len(pids) == 2
    assert _kernels_and_sockets(private_tmp) == ([], [])


@pytest.mark.kernel
def test_a_failure_on_a_shared_kernel_stops_it(portfolio_root, private_tmp):
    make_tiny(portfolio_root, "alpha", {"03_evaluate_algorithms": "1 / 0"})
    result = cli(portfolio_root, "run", "--fast", "--workers", "1", "alpha")
    assert result.exit_code == 1
    assert "alpha: notebooks/03_evaluate_algorithms.ipynb: cell 4: ZeroDivisionError" \
        in result.output
    assert _kernels_and_sockets(private_tmp) == ([], [])


def test_a_bad_shared_kernels_setting_is_one_line_and_runs_nothing(portfolio_root, monkeypatch):
    make_tiny(portfolio_root, "alpha")
    monkeypatch.setenv("PORTFOLIO_SHARED_KERNELS", "yes")
    result = cli(portfolio_root, "run", "--fast", "alpha")
    assert result.exit_code == 1
    assert result.output == "Error: PORTFOLIO_SHARED_KERNELS: expected 0 or 1, got 'yes'\n"
    assert not (portfolio_root / "portfolio/projects/alpha/export").exists()
