"""The base install builds, checks and serves the site without the training stack: what those
commands import, what the base requirements hold, and the one line the commands that train
give without their extra."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from site_builder import cli as cli_module

from .conftest import REPO, cli, make_portfolio
from .tiny import fake_export, make_tiny

FRAMEWORKS = {"tensorflow", "keras", "torch", "jax"}
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

# In a fresh interpreter: run the commands in-process, then list the distributions of the
# training extra that any imported module belongs to.
PROBE = """
import json, sys
from importlib import metadata
from click.testing import CliRunner
from site_builder.cli import main
runner = CliRunner()
codes = [runner.invoke(main, [command]).exit_code for command in ("build", "check")]
import site_builder.serve, site_builder.publish, site_builder.placeholders
train = set(json.loads(sys.argv[1]))
owners = metadata.packages_distributions()
loaded = sorted({dist.lower() for name in list(sys.modules) for dist in owners.get(name.split(".")[0], [])
                 if dist.lower() in train})
print(json.dumps({"codes": codes, "train": loaded,
                  "frameworks": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))}))
"""


def names(requirements: list[str]) -> set[str]:
    return {Requirement(line).name.lower() for line in requirements}


def test_build_check_and_serve_import_nothing_of_the_training_extra(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    fake_export(make_tiny(root, "alpha"))
    train = sorted(names(PYPROJECT["project"]["optional-dependencies"]["train"]))
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(train), *FRAMEWORKS],
                          cwd=root, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"codes": [0, 0], "train": [], "frameworks": []}
    assert (root / "site/projects/alpha/index.html").is_file()


def test_the_base_requirements_hold_no_training_library():
    base = names(PYPROJECT["project"]["dependencies"])
    train = names(PYPROJECT["project"]["optional-dependencies"]["train"])
    assert not base & (FRAMEWORKS | train)
    assert {"tensorflow", "keras", "scikit-learn", "pandas", "papermill", "cookiecutter"} <= train
    assert names(PYPROJECT["project"]["optional-dependencies"]["lab"]) == {"jupyterlab"}


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    command = re.search(r"# 2\. .*\n(.*)\n", readme)[1]
    assert "[train," in command and command.endswith("python -m pytest -n 2")
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert ci[-1] == command


@pytest.mark.parametrize(("requires", "missing"), [
    (['keras<4,>=3.8; extra == "train"', 'not-installed-x>=1; extra == "train"'],
     ["not-installed-x"]),
    (['not-installed-x>=1; extra == "lab"', "not-installed-y>=1"], []),
    (['not-installed-x; python_version >= "3"'], []),
    ([], []),
])
def test_missing_from_extra(requires, missing):
    def installed(name: str) -> bool:
        return not name.startswith("not-installed")

    assert cli_module.missing_from_extra(requires, "train", installed) == missing


@pytest.mark.parametrize("command", [["new", "Breast cancer", "--no-input"], ["run"]])
def test_training_commands_without_their_extra_say_how_to_install_it(tmp_path, monkeypatch,
                                                                      command):
    root = make_portfolio(tmp_path / "folio")
    requires = [*metadata.requires("dl-portfolio-kit"), 'tensorflow-not-here>=2; extra == "train"']
    monkeypatch.setattr(metadata, "requires", lambda name: requires)
    result = cli(root, *command)
    assert (result.exit_code, result.output) == (
        1, f"Error: portfolio {command[0]} needs the kit's train extra (tensorflow-not-here is "
           "not installed): pip install \"dl-portfolio-kit[train]\"\n")
    assert not list((root / "portfolio/projects").iterdir())
