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


LEAVE = """\
import builtins, os, sys, warnings
print(os.getpid())
import matplotlib
import helpers
from nspkg import sub
left_behind = 1
helpers.LEFT = "step 1"
sub.LEFT = "step 1"
os.environ["LEFT_BEHIND"] = "1"
matplotlib.rcParams["figure.dpi"] = 17
warnings.simplefilter("ignore")
sys.path.insert(0, "/left-behind")
builtins.left_behind = 1
os.chdir("/")
import matplotlib.pyplot as plt
plt.figure()
import numpy, pandas, string
numpy.set_printoptions(precision=1)
pandas.set_option("display.max_rows", 3)
sys.setrecursionlimit(54321)
builtins.ascii = lambda *args: "left"
__left_dunder = 1
__left_both__ = 1
string.left_calls = 0
numpy.seterr(all="raise")
import functools, logging, sklearn
sklearn.set_config(assume_finite=True)
logging.getLogger().setLevel(logging.DEBUG)
matplotlib.use("agg")
del sys.modules["numpy"]


def _count_cells(*args):
    string.left_calls += 1


get_ipython().events.register("post_run_cell", _count_cells)
get_ipython().events.register("post_run_cell", functools.partial(_count_cells))
"""

SEE = """\
import builtins, os, string, sys, warnings
import matplotlib
import matplotlib.pyplot as plt
import numpy, pandas
import helpers
from nspkg import sub
print(os.getpid())
print(sorted(k for k in globals() if k.startswith(("left", "__left"))),
      getattr(helpers, "LEFT", None), getattr(sub, "LEFT", None),
      os.environ.get("LEFT_BEHIND"), matplotlib.rcParams["figure.dpi"] == 17,
      ("ignore", None, Warning, None, 0) in warnings.filters, "/left-behind" in sys.path,
      hasattr(builtins, "left_behind"), ascii(1), numpy.get_printoptions()["precision"],
      pandas.get_option("display.max_rows"), sys.getrecursionlimit() == 54321,
      getattr(string, "left_calls", 2), numpy.geterr()["divide"],
      __import__("sklearn").get_config()["assume_finite"],
      __import__("logging").getLogger().level, matplotlib.get_backend() == "agg",
      os.getcwd() == str(project.dir / "notebooks"),
      len(plt.get_fignums()), len(In), os.environ["PORTFOLIO_PROGRESS"].rsplit("/", 1)[-1])
"""
FRESH = ("[] None None None False False False False 1 8 60 False 2 warn False 30 False "
         "True 0 4")


def _seen(project: Path, step: str) -> tuple[list[int], list[str]]:
    nb = nbformat.read(project / f"export/notebooks/{step}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    return ([c.execution_count for c in code],
            "".join(o.text for o in code[-1].outputs if o.output_type == "stream").splitlines())


@pytest.mark.kernel
def test_a_shared_kernel_is_put_back_between_notebooks_as_it_was(portfolio_root, private_tmp):
    """Steps 1 and 2 share a kernel in a fast run: what step 1 leaves behind (a variable, a
    module's global, an environment variable, matplotlib's settings and figures, a warnings
    filter, sys.path, a builtin added or replaced, a dunder name, a namespace package of the
    project, NumPy's and pandas' printing options, the recursion limit, an IPython event
    callback, the working folder, the input history) is gone for step 2, which
    counts from 1 and reports its progress as its own; then the kernel is stopped."""
    project = make_tiny(portfolio_root, "alpha", {"01_define_problem": LEAVE,
                                                  "02_prepare_data": SEE})
    (project / "notebooks" / "helpers.py").write_text("LEFT = None\n")
    (project / "notebooks" / "nspkg").mkdir()  # a namespace package: no __init__.py
    (project / "notebooks" / "nspkg" / "sub.py").write_text("LEFT = None\n")
    result = cli(portfolio_root, "run", "--fast", "--workers", "1", "alpha")
    assert result.exit_code == 0, result.output
    counts, (pid, seen) = _seen(project, "02_prepare_data")
    assert _seen(project, "01_define_problem")[1] == [pid]  # one kernel
    assert counts == [1, 2, 3]
    assert seen == f"{FRESH} 02_prepare_data.txt"
    assert _kernels_and_sockets(private_tmp) == ([], [])

    # Each notebook on a kernel of its own (a full run, or PORTFOLIO_SHARED_KERNELS=0) sees
    # the same.
    for args, env in ((["--force"], None), (["--fast", "--force"], "0")):
        if env:
            os.environ["PORTFOLIO_SHARED_KERNELS"] = env
        try:
            result = cli(portfolio_root, "run", "--workers", "1", *args, "alpha")
        finally:
            os.environ.pop("PORTFOLIO_SHARED_KERNELS", None)
        assert result.exit_code == 0, result.output
        assert _seen(project, "02_prepare_data")[1][1] == f"{FRESH} 02_prepare_data.txt"
        assert _seen(project, "02_prepare_data")[1][0] != pid
    assert _kernels_and_sockets(private_tmp) == ([], [])


KERAS_LEAVE = """\
import os
import keras
print(os.getpid())
keras.config.set_floatx("float16")
keras.config.set_dtype_policy("mixed_float16")
keras.config.set_max_epochs(1)
keras.config.disable_traceback_filtering()
"""
KERAS_SEE = """\
import os
import keras
print(os.getpid())
print(keras.config.floatx(), keras.config.dtype_policy().name, keras.config.max_epochs(),
      keras.config.is_traceback_filtering_enabled())
"""


@pytest.mark.kernel
def test_keras_settings_are_put_back_between_training_notebooks(portfolio_root):
    """A float type or dtype policy set in step 3 would otherwise train and save step 5's model
    in float16 in a fast run only."""
    project = make_tiny(portfolio_root, "alpha", {"03_evaluate_algorithms": KERAS_LEAVE,
                                                  "04_improve_results": KERAS_SEE,
                                                  "05_present_results": "import keras"})
    result = cli(portfolio_root, "run", "--fast", "--workers", "1", "alpha")
    assert result.exit_code == 0, result.output
    (pid,) = _seen(project, "03_evaluate_algorithms")[1]
    assert _seen(project, "04_improve_results")[1] == [pid, "float32 float32 None True"]


@pytest.mark.kernel
def test_a_kernel_that_cannot_be_put_back_is_named_with_both_notebooks(portfolio_root,
                                                                        private_tmp):
    """Step 1 breaks what puts the kernel back: step 2 says it could not start on the kernel
    it shares with step 1, why, and how to give it its own; no kernel is left."""
    breaks = "from site_builder import kernel_state\nkernel_state.restore = None"
    make_tiny(portfolio_root, "alpha", {"01_define_problem": breaks})
    result = cli(portfolio_root, "run", "--fast", "--workers", "1", "alpha")
    assert result.exit_code == 1
    assert ("Error: alpha: notebooks/02_prepare_data.ipynb: could not start on the kernel it "
            "shares with notebooks/01_define_problem.ipynb in a fast run (TypeError: 'NoneType' "
            "object is not callable); PORTFOLIO_SHARED_KERNELS=0 gives each notebook a kernel of "
            "its own\n") in result.output
    assert _kernels_and_sockets(private_tmp) == ([], [])


@pytest.mark.kernel
def test_braces_in_a_projects_path_are_kept(tmp_path):
    root = tmp_path / "a {slug} b{0}" / "folio"
    from .conftest import make_portfolio

    make_portfolio(root)
    make_tiny(root, "alpha")
    result = cli(root, "run", "--fast", "--workers", "1", "alpha")
    assert result.exit_code == 0, result.output
    assert (root / "portfolio/projects/alpha/export/notebooks/05_present_results.ipynb").is_file()


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
