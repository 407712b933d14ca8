"""`portfolio init`: the files, the first commit, the workflow's install step for each way
the kit can be installed, and the placeholders a new portfolio starts with."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from site_builder import init
from site_builder.init import UNREACHABLE, WORKFLOW, KitSource, kit_source
from site_builder.layout import Portfolio
from site_builder.placeholders import TEMPLATE_SUMMARY, find_placeholders

from .conftest import PROFILE, cli
from .tiny import make_tiny

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {".github/workflows/pages.yml", ".gitignore", "README.md", "mkdocs.yml",
         "portfolio/profile.yml", "portfolio/projects/.gitkeep"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def git_identity(tmp_path, monkeypatch) -> Path:
    """A global git configuration of the test's own, with a name and email."""
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tname = New User\n\temail = new@example.com\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return config


def direct_url(**info) -> str:
    return json.dumps(info)


def clone(tmp_path: Path, origin: str | None) -> tuple[Path, str]:
    folder = tmp_path / "kit"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=K", "-c", "user.email=k@e.com", "commit", "-q", "-m", "kit")
    if origin:
        git(folder, "remote", "add", "origin", origin)
    return folder, git(folder, "rev-parse", "HEAD")


def test_a_git_install_is_installed_from_the_same_commit():
    source = kit_source(direct_url(url="https://github.com/someone/kit.git", vcs_info={
        "vcs": "git", "commit_id": COMMIT, "requested_revision": "main"}), "0.1.0", False)
    assert source == KitSource(
        f"pip install 'dl-portfolio-kit @ git+https://github.com/someone/kit.git@{COMMIT}'")
    nested = kit_source(direct_url(url="https://github.com/someone/mono", subdirectory="kit",
                                   vcs_info={"vcs": "git", "commit_id": COMMIT}), "0.1.0", False)
    assert shlex.split(nested.command) == [
        "pip", "install", f"dl-portfolio-kit @ git+https://github.com/someone/mono@{COMMIT}"
                          "#subdirectory=kit"]


def test_an_index_or_archive_install_is_installed_the_same_way():
    assert kit_source(None, "0.3.1", True) == KitSource("pip install dl-portfolio-kit==0.3.1")
    wheel = "https://example.com/dl_portfolio_kit-0.1.0-py3-none-any.whl"
    assert kit_source(direct_url(url=wheel, archive_info={}), "0.1.0", False) == \
        KitSource(f"pip install 'dl-portfolio-kit @ {wheel}'")


@pytest.mark.parametrize("origin", ["https://github.com/someone/kit.git",
                                    "git@github.com:someone/kit.git"])
def test_a_local_clone_is_installed_from_its_origin_at_its_commit(tmp_path, origin):
    folder, head = clone(tmp_path, origin)
    source = kit_source(direct_url(url=folder.as_uri(), dir_info={"editable": True}), "0.1.0",
                        False)
    assert source == KitSource(
        f"pip install 'dl-portfolio-kit @ git+https://github.com/someone/kit.git@{head}'",
        f"Note: the kit is installed from the folder {folder}: the workflow installs its commit "
        f"{head[:12]} from https://github.com/someone/kit.git, so push that commit there")


@pytest.mark.parametrize("case", ["no remote", "local remote", "not a clone", "local wheel"])
def test_a_folder_ci_cannot_reach_is_a_warning_and_a_failing_step(tmp_path, case):
    if case == "not a clone":
        folder = tmp_path / "kit"
        folder.mkdir()
    elif case == "local wheel":
        folder = tmp_path / "dl_portfolio_kit-0.1.0-py3-none-any.whl"
        folder.write_bytes(b"")
    else:
        folder, _ = clone(tmp_path, None if case == "no remote" else str(tmp_path / "other.git"))
    info = {"archive_info": {}} if case == "local wheel" else {"dir_info": {}}
    source = kit_source(direct_url(url=folder.as_uri(), **info), "0.1.0", False)
    assert source == KitSource(UNREACHABLE, f"Warning: the kit is installed from the folder "
                                            f"{folder}, which CI cannot reach; edit the install "
                                            f"step of {WORKFLOW}")


@pytest.mark.parametrize("metadata", [None, "not json", "[]", '{"dir": 1}'])
def test_no_or_unreadable_install_record_is_a_warning(metadata):
    assert kit_source(metadata, "0.1.0", False) == KitSource(
        UNREACHABLE, "Warning: cannot tell where the kit was installed from; CI cannot install "
                     f"it until you edit the install step of {WORKFLOW}")


def read_workflow(root: Path) -> dict:
    # YAML 1.1 reads the key `on` as true, as GitHub does not: a loader without that rule.
    return yaml.load((root / WORKFLOW).read_text(), Loader=yaml.BaseLoader)


def test_init_writes_a_deploying_workflow_and_commits_the_files(tmp_path, git_identity,
                                                                monkeypatch):
    command = f"pip install 'dl-portfolio-kit @ git+https://github.com/someone/kit@{COMMIT}'"
    monkeypatch.setattr(init, "installed_kit_source", lambda: KitSource(command))
    target = tmp_path / "mine"
    result = cli(tmp_path, "init", str(target))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "made a git repository (branch main) with a first commit; add your GitHub repository "
        "with 'git remote add origin URL' and push")
    assert set(git(target, "ls-files").splitlines()) == FILES
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(target, "log", "--format=%an <%ae>|%s") == \
        "New User <new@example.com>|A new portfolio, made by portfolio init"
    assert git(target, "status", "--porcelain") == ""
    flow = read_workflow(target)
    assert flow["on"]["push"]["branches"] == ["main"]
    assert flow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    assert build["runs-on"] == deploy["runs-on"] == "ubuntu-latest"
    runs = [step.get("run") for step in build["steps"]]
    assert runs == [None, None, command, "portfolio build", None]
    assert [step.get("uses") for step in build["steps"]] == [
        "actions/checkout@v4", "actions/setup-python@v5", None, None,
        "actions/upload-pages-artifact@v3"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"] == [{"id": "deployment", "uses": "actions/deploy-pages@v4"}]
    assert "__KIT_INSTALL__" not in (target / WORKFLOW).read_text()
    again = cli(tmp_path, "init", str(target))
    assert (again.exit_code, again.output) == (
        1, f"Error: {target}/mkdocs.yml: exists already; portfolio init writes only into a new "
           "or empty folder\n")


def test_the_packaged_workflow_has_one_install_step_to_fill():
    text = (init.FILES / "pages.yml").read_text()
    assert text.count(init.INSTALL_MARKER) == 1
    assert "tensorflow" not in text.lower() and "[train]" not in text


def test_the_unreachable_step_fails_with_its_message(tmp_path):
    target = tmp_path / "mine"
    init.initialize(target, KitSource(UNREACHABLE, "Warning: x"))
    step = read_workflow(target)["jobs"]["build"]["steps"][2]["run"]
    done = subprocess.run(["bash", "-c", step], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (
        1, "portfolio init could not tell where CI can install the kit from: put its pip "
           f"install command here, in {WORKFLOW}\n")


def test_without_a_git_identity_init_says_how_to_commit(tmp_path, monkeypatch):
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "mine"
    _files, line = init.initialize(target, KitSource("pip install x"))
    assert line == (
        "Note: made a git repository without a first commit (fatal: no email was given and "
        "auto-detection is disabled); set your name and email with 'git config --global "
        "user.name \"Your Name\"' and 'git config --global user.email you@example.com', "
        "then 'git commit'")
    assert config.read_text() == "[user]\n\tuseConfigOnly = true\n"
    assert set(git(target, "diff", "--cached", "--name-only").splitlines()) == FILES


def test_without_git_or_inside_a_repository_init_commits_nothing(tmp_path, monkeypatch,
                                                                 git_identity):
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    _files, line = init.initialize(outer / "mine", KitSource("pip install x"))
    assert line == f"Note: {outer / 'mine'} is inside the git repository {outer}; commit the " \
                   "new files there"
    assert not (outer / "mine/.git").exists()
    monkeypatch.setattr(init.shutil, "which", lambda name: None)
    _files, line = init.initialize(tmp_path / "plain", KitSource("pip install x"))
    assert line == "Note: git is not installed, so this is no git repository yet; publishing " \
                   "needs one"
    assert not (tmp_path / "plain/.git").exists()


def test_a_new_portfolio_lists_its_placeholders_until_they_are_replaced(tmp_path):
    root = tmp_path / "mine"
    init.initialize(root, KitSource("pip install x"))
    portfolio = Portfolio(root)
    profile = "portfolio/profile.yml"
    assert find_placeholders(portfolio) == [
        (profile, "field 'name' is still the example 'Your Name'"),
        (profile, "field 'headline' is still the example 'What you do, in one line'"),
        (profile, "field 'bio' is still the example 'Two or three sentences on what you ar...'"),
        (profile, "field 'repository' is still the example address "
                  "https://github.com/your-account/your-portfolio"),
        (profile, "link 'GitHub' is still the example address https://github.com/your-account"),
        (profile, "link 'Email' is still the example address mailto:you@example.com"),
    ]
    (root / profile).write_text(PROFILE)
    assert find_placeholders(portfolio) == []
    (root / profile).write_text(PROFILE + "  - label: Blog\n    url: https://github.com/your-account/blog\n")
    assert find_placeholders(portfolio) == [
        (profile, "link 'Blog' is still the example address https://github.com/your-account/blog")]
    (root / profile).write_text(PROFILE)
    project = make_tiny(root, "alpha")
    config = project / "project.yml"
    config.write_text(config.read_text().replace("A tiny project for tests.", TEMPLATE_SUMMARY))
    assert find_placeholders(portfolio) == [
        ("portfolio/projects/alpha/project.yml", "field 'summary' is still the template's default "
                                                 "'A predictive-modelling project worked...'")]


def test_the_summary_reported_is_the_one_new_projects_get():
    from site_builder.scaffold import DEFAULT_SUMMARY

    assert TEMPLATE_SUMMARY == DEFAULT_SUMMARY


@pytest.mark.parametrize("text", ["name: [unclosed\n", "- a list\n", "", "\xff"])
def test_an_unreadable_profile_has_no_placeholders_to_report(tmp_path, text):
    root = tmp_path / "mine"
    init.initialize(root, KitSource("pip install x"))
    (root / "portfolio/profile.yml").write_bytes(text.encode("latin-1"))
    assert find_placeholders(Portfolio(root)) == []


def test_check_reports_each_placeholder_as_a_finding(tmp_path):
    root = tmp_path / "mine"
    init.initialize(root, KitSource("pip install x"))
    result = cli(root, "check")
    assert result.exit_code == 1
    why = "an example from portfolio init or the template; replace it with your own before publishing"
    lines = [line for line in result.output.splitlines() if line.endswith(why)]
    assert lines[:2] == [
        f"portfolio/profile.yml: field 'name' is still the example 'Your Name', {why}",
        f"portfolio/profile.yml: field 'headline' is still the example 'What you do, in one line', "
        f"{why}",
    ]
    assert len(lines) == 6
    assert result.output.splitlines()[-1].startswith("Error: 6 finding(s) (placeholder")
