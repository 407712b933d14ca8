"""`portfolio update`: template changes merged three-way into projects made from the template."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from site_builder import scaffold

from .conftest import REPO, cli, tree

STEP3 = "notebooks/03_evaluate_algorithms.ipynb"
STEP4 = "notebooks/04_improve_results.ipynb"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def kit(tmp_path: Path, monkeypatch) -> Path:
    """A kit repository of its own whose template/ the test changes and commits."""
    root = tmp_path / "kit"
    shutil.copytree(REPO / "template", root / "template")
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "template v1")
    monkeypatch.setattr(scaffold, "TEMPLATE_DIR", root / "template")
    return root


def template_notebook(kit: Path, step: str) -> Path:
    return kit / "template" / "{{cookiecutter.project_slug}}" / "_notebooks" / \
        "tabular-classification" / f"{step}.ipynb"


def edit_cell(path: Path, index: int, source: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[index].source = source
    nbformat.write(notebook, path)


def commit(kit: Path, message: str) -> str:
    git(kit, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", message)
    return git(kit, "rev-parse", "HEAD")


def cell(path: Path, index: int) -> str:
    return nbformat.read(path, as_version=4).cells[index].source


def new_project(root: Path) -> Path:
    result = cli(root, "new", "Cancer", "--no-input")
    assert result.exit_code == 0, result.output
    return root / "portfolio" / "projects" / "cancer"


def test_new_records_the_template_version(kit, portfolio_root):
    project = new_project(portfolio_root)
    record = json.loads((project / ".template.json").read_text())
    assert record == {"kit": "0.1.0", "commit": git(kit, "rev-parse", "HEAD")}
    result = cli(portfolio_root, "update")
    assert result.exit_code == 0, result.output
    assert result.output == "cancer: up to date with the template\n"


def test_update_brings_the_template_change_and_keeps_the_users_edit(kit, portfolio_root):
    project = new_project(portfolio_root)
    edit_cell(project / STEP3, 1, "folds = 7  # my choice")
    edit_cell(template_notebook(kit, "04_improve_results"), 0, "# Step 4: Improve results\n\nNew text.")
    new_commit = commit(kit, "template v2")

    before = tree(project)
    dry = cli(portfolio_root, "update", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output == f"cancer: {STEP4}: would be updated\n"
    assert tree(project) == before

    result = cli(portfolio_root, "update", "cancer")
    assert result.exit_code == 0, result.output
    assert result.output == f"cancer: {STEP4}: updated\n"
    assert cell(project / STEP4, 0) == "# Step 4: Improve results\n\nNew text."
    assert cell(project / STEP3, 1) == "folds = 7  # my choice"
    assert json.loads((project / ".template.json").read_text())["commit"] == new_commit


def test_both_changed_one_notebook_in_different_cells_merges(kit, portfolio_root):
    project = new_project(portfolio_root)
    edit_cell(project / STEP4, 1, "seed = None\nfolds = 3")
    edit_cell(template_notebook(kit, "04_improve_results"), 0, "# Step 4\n\nReworded.")
    commit(kit, "template v2")
    result = cli(portfolio_root, "update")
    assert result.exit_code == 0, result.output
    assert result.output == f"cancer: {STEP4}: merged\n"
    assert cell(project / STEP4, 0) == "# Step 4\n\nReworded."
    assert cell(project / STEP4, 1) == "seed = None\nfolds = 3"


def test_a_conflicting_edit_is_reported_and_the_notebook_stays_valid(kit, portfolio_root):
    project = new_project(portfolio_root)
    edit_cell(project / STEP4, 1, "folds = 3  # mine")
    edit_cell(template_notebook(kit, "04_improve_results"), 1, "folds = 10  # template")
    commit(kit, "template v2")
    result = cli(portfolio_root, "update")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"cancer: {STEP4}: conflict (cell 2; conflict markers left in the file)",
        "Error: 1 file(s) in conflict: resolve the conflict markers, then run 'portfolio run'",
    ]
    source = cell(project / STEP4, 1)  # nbformat reads it: the notebook is valid JSON
    assert source.startswith("<<<<<<< local\nfolds = 3  # mine\n=======\nfolds = 10  # template")


def test_a_text_file_merges_line_by_line(kit, portfolio_root):
    project = new_project(portfolio_root)
    models = project / "notebooks" / "models.py"
    models.write_text(models.read_text() + "\n# my note\n")
    template_models = template_notebook(kit, "models").with_suffix(".py")
    template_models.write_text('"""Changed docstring."""\n' + template_models.read_text())
    commit(kit, "template v2")
    result = cli(portfolio_root, "update")
    assert result.exit_code == 0, result.output
    assert result.output == "cancer: notebooks/models.py: merged\n"
    text = models.read_text()
    assert text.startswith('"""Changed docstring."""\n') and text.endswith("\n# my note\n")


def test_a_project_without_a_record_is_one_line(kit, portfolio_root):
    project = new_project(portfolio_root)
    (project / ".template.json").unlink()
    result = cli(portfolio_root, "update")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: portfolio/projects/cancer/.template.json: missing: the project does not say "
        "which template version it was made from, so it cannot be updated",
        "Error: 1 project(s) not updated",
    ]


def test_the_updated_steps_become_stale(kit, portfolio_root):
    from site_builder.cache import step_inputs
    from site_builder.layout import Project

    project = Project(new_project(portfolio_root))
    before = [s.key for s in step_inputs(project, fast=True)]
    edit_cell(template_notebook(kit, "04_improve_results"), 1, "seed = None\nfolds = 4")
    commit(kit, "template v2")
    assert cli(portfolio_root, "update").exit_code == 0
    after = [s.key for s in step_inputs(project, fast=True)]
    assert [b == a for b, a in zip(before, after, strict=True)] == [True, True, True, False, False]


def test_a_hostile_record_runs_nothing_and_empties_nothing(kit, portfolio_root, tmp_path):
    """The record is a file like any other: its commit is only ever a hash, and the answers
    the template is rendered with come from the validated project.yml, not from it."""
    project = new_project(portfolio_root)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    marker = tmp_path / "pwned"
    record = project / ".template.json"
    for bad in (f"--output={victim}", 5, "HEAD", "0" * 39):
        record.write_text(json.dumps({"commit": bad, "answers": {
            "project_slug": f"x{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}",
            "problem_type": "tabular-classification"}}))
        result = cli(portfolio_root, "update", "--dry-run")
        assert result.exit_code == 1
        assert result.output.splitlines()[0] == (
            "Error: portfolio/projects/cancer/.template.json: field 'commit': not a commit hash "
            "(40 hexadecimal digits)")
    assert victim.read_text() == "precious"
    # A real old commit: the answers in the record are not used at all.
    edit_cell(template_notebook(kit, "04_improve_results"), 1, "seed = None\nfolds = 4")
    old = git(kit, "rev-parse", "HEAD")
    commit(kit, "template v2")
    record.write_text(json.dumps({"commit": old, "answers": {"project_slug": "{{ 7*7 }}"}}))
    result = cli(portfolio_root, "update")
    assert result.exit_code == 0, result.output
    assert result.output == f"cancer: {STEP4}: updated\n"
    assert not marker.exists() and not (portfolio_root / "portfolio" / "projects" / "49").exists()


def test_an_old_template_is_rendered_without_running_its_hooks(kit, portfolio_root):
    """An old template's hook may import what today's kit no longer has."""
    hook = kit / "template" / "hooks" / "pre_gen_project.py"
    hook.write_text("from site_builder.scaffold import NoSuchThing\n")
    git(kit, "add", "template/hooks/pre_gen_project.py")
    commit(kit, "a hook of its time")
    project = new_project_without_hooks(portfolio_root, kit)
    hook.unlink()
    edit_cell(template_notebook(kit, "04_improve_results"), 1, "seed = None\nfolds = 4")
    git(kit, "add", "-A")
    commit(kit, "template v2")
    result = cli(portfolio_root, "update")
    assert result.exit_code == 0, result.output
    assert result.output == f"cancer: {STEP4}: updated\n"
    assert cell(project / STEP4, 1) == "seed = None\nfolds = 4"


def new_project_without_hooks(root: Path, kit: Path) -> Path:
    """A project as 'portfolio new' made it from the template at the kit's HEAD, whose hook
    today's kit cannot run."""
    hook = kit / "template" / "hooks" / "pre_gen_project.py"
    saved = hook.read_text()
    hook.unlink()
    try:
        project = new_project(root)
    finally:
        hook.write_text(saved)
    return project


def test_the_shipped_examples_record_a_template_commit_of_this_repository():
    """The shipped examples are kept current with 'portfolio update' like any project."""
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO,
                             capture_output=True, text=True)
    if shallow.returncode or shallow.stdout.strip() != "false":
        pytest.skip("not a full git checkout: the template's history is not here")
    from site_builder.layout import Project
    from site_builder.update import read_record

    projects = sorted((REPO / "portfolio" / "projects").iterdir())
    assert [p.name for p in projects] == ["breast-cancer-mlp", "diabetes-mlp", "digits-cnn",
                                          "sunspots-lstm"]
    for project in projects:
        commit = read_record(Project(project), project.name)["commit"]
        assert git(REPO, "cat-file", "-t", commit) == "commit"
