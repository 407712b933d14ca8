"""`portfolio check`, `portfolio publish`, `portfolio init`, and atomic builds."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import cli, make_portfolio, tree
from .tiny import fake_export, make_tiny


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def clean(tmp_path) -> Path:
    """A portfolio with one full, fresh, exported project: check finds nothing."""
    root = make_portfolio(tmp_path / "folio")
    fake_export(make_tiny(root, "alpha"))
    return root


def add_output(notebook: Path, output: dict, cell: int = 3) -> None:
    data = json.loads(notebook.read_text())
    data["cells"][cell]["outputs"].append(output)
    notebook.write_text(json.dumps(data))


def test_a_clean_portfolio_has_no_findings(clean):
    result = cli(clean, "check")
    assert (result.exit_code, result.output) == (0, "no findings\n")


def test_a_secret_in_an_output_is_caught_where_raw_json_scanning_misses_it(clean):
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    notebook = clean / "portfolio/projects/alpha/export/notebooks/03_evaluate_algorithms.ipynb"
    add_output(notebook, {"output_type": "stream", "name": "stdout",
                          "text": 'db_password = "Zq8#mWv2Lx9!"\n'})
    with default_settings():
        raw = SecretsCollection()
        raw.scan_file(str(notebook))
    assert not [s for _, s in raw if s.type == "Secret Keyword"]
    result = cli(clean, "check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("portfolio/projects/alpha/export/notebooks/"
                               "03_evaluate_algorithms.ipynb:cell 4: Secret Keyword (")
    assert lines[0].endswith("), a credential must not be published; remove it and rotate it, "
                             "or add its hash to portfolio/check-allowlist.txt if it is not a "
                             "secret")
    assert lines[-1] == "Error: 1 finding(s) (secret)"
    digest = lines[0].split("(")[1].split(")")[0]
    from detect_secrets.core.potential_secret import PotentialSecret

    full = PotentialSecret.hash_secret("Zq8#mWv2Lx9!")
    assert full.startswith(digest)
    (clean / "portfolio/check-allowlist.txt").write_text(f"{full}  # a test value\n")
    assert cli(clean, "check").output == "no findings\n"


@pytest.mark.parametrize("kind", ["aws", "github", "private-key"])
def test_other_credentials_in_sources_are_caught(clean, kind):
    text = {"aws": 'key = "AKIAIOSFODNN7EXAMPLE"',
            "github": 'token = "ghp_1234567890abcdefghijklmnopqrstuvwxyz12"',
            "private-key": "-----BEGIN RSA PRIVATE KEY-----"}[kind]
    notebook = clean / "portfolio/projects/alpha/notebooks/01_define_problem.ipynb"
    data = json.loads(notebook.read_text())
    data["cells"][1]["source"] += "\n" + text
    notebook.write_text(json.dumps(data))
    result = cli(clean, "check")
    assert result.exit_code == 1
    name = {"aws": "AWS Access Key", "github": "GitHub Token", "private-key": "Private Key"}[kind]
    assert ("portfolio/projects/alpha/notebooks/01_define_problem.ipynb:cell 2: " + name) \
        in result.output


def test_each_export_problem_is_a_finding(clean, tmp_path):
    root = clean
    fake_export(make_tiny(root, "smoky"), smoke=True)
    stale = make_tiny(root, "stale")
    fake_export(stale)
    nb = stale / "notebooks/02_prepare_data.ipynb"
    nb.write_text(nb.read_text().replace("rows = 10", "rows = 20"))
    gap = make_tiny(root, "gap")
    fake_export(gap)
    (gap / "export/notebooks/04_improve_results.ipynb").unlink()
    manifest = json.loads((gap / "export/manifest.json").read_text())
    manifest["notebooks"] = [n for n in manifest["notebooks"] if n["step"] != "04_improve_results"]
    (gap / "export/manifest.json").write_text(json.dumps(manifest))
    broken = make_tiny(root, "broken")
    (broken / "project.yml").write_text((broken / "project.yml").read_text().replace(
        "metric: {name: accuracy, direction: maximize}", "metric: {name: accuracy}"))
    result = cli(root, "check")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "portfolio/projects/broken/project.yml: field 'metric.direction': Field required, "
        "the project is left out of the site",
        "portfolio/projects/gap/export: steps missing: 04_improve_results, a published project "
        "shows all five steps",
        "portfolio/projects/gap/export/manifest.json: the export is stale (04_improve_results: "
        "no export), the published results would not match the notebooks",
        "portfolio/projects/smoky/export/manifest.json: the export is a smoke run (--fast), "
        "its scores are not results; run it in full",
        "portfolio/projects/stale/export/manifest.json: the export is stale (02_prepare_data: "
        "notebook code changed), the published results would not match the notebooks",
        "Error: 5 finding(s) (missing-steps, project-yml, smoke-run, stale)",
    ]


def test_site_findings_broken_link_and_size(clean):
    assert cli(clean, "build").exit_code == 0
    page = clean / "site/about/index.html"
    page.write_text(page.read_text() + '<a href="../nowhere/">x</a>')
    with open(clean / "site/huge.bin", "wb") as handle:
        handle.truncate(101 * 1024 * 1024)
    result = cli(clean, "check")
    assert result.exit_code == 1
    assert "site/about/index.html: link to ../nowhere/, its target is not in the site" \
        in result.output.splitlines()
    assert "site/huge.bin: 101 MB, GitHub Pages refuses files over 100 MB" \
        in result.output.splitlines()


def _repo_with_remote(root: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--bare", "-q", str(bare))
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "T")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "portfolio")
    git(root, "remote", "add", "origin", str(bare))
    return bare


def test_publish_to_a_bare_remote_twice(clean, tmp_path):
    bare = _repo_with_remote(clean, tmp_path)
    main_before = git(clean, "log", "--format=%H", "main")
    result = cli(clean, "publish", "--cname", "me.example.com")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"published \d+ files to origin/gh-pages\n", result.output)
    files = git(bare, "ls-tree", "-r", "--name-only", "gh-pages").splitlines()
    assert {"index.html", ".nojekyll", "CNAME", "projects/alpha/index.html"} <= set(files)
    assert git(bare, "show", "gh-pages:CNAME") == "me.example.com"
    assert len(git(bare, "log", "--format=%H", "gh-pages").splitlines()) == 1
    (clean / "portfolio/profile.yml").write_text(
        (clean / "portfolio/profile.yml").read_text().replace("Test Person", "Test Person Two"))
    assert cli(clean, "publish").exit_code == 0
    assert len(git(bare, "log", "--format=%H", "gh-pages").splitlines()) == 2
    assert git(clean, "log", "--format=%H", "main") == main_before
    assert git(clean, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert "Test Person Two" in git(bare, "show", "gh-pages:index.html")


def test_publish_refuses_findings_unless_forced_by_kind(clean, tmp_path):
    bare = _repo_with_remote(clean, tmp_path)
    fake_export(make_tiny(clean, "smoky"), smoke=True)
    result = cli(clean, "publish")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "Error: 1 finding(s) (smoke-run)"
    assert git(bare, "branch", "--list") == ""
    result = cli(clean, "publish", "--force", "smoke-run")
    assert result.exit_code == 0, result.output
    assert "forced: portfolio/projects/smoky/export/manifest.json: the export is a smoke run" \
        in result.output
    result = cli(clean, "publish", "--force", "everything")
    assert result.output.startswith("Error: --force: unknown finding kind 'everything'")


def test_publish_errors(clean, tmp_path):
    result = cli(clean, "publish")
    assert result.output == f"Error: {clean}: not a git repository (run 'git init' first)\n"
    git(clean, "init", "-q", "-b", "main")
    result = cli(clean, "publish")
    assert result.output == (f"Error: {clean}: the repository has no commit yet; commit the "
                             "portfolio first (git add -A && git commit -m 'My portfolio')\n")
    shutil.rmtree(clean / ".git")
    bare = _repo_with_remote(clean, tmp_path)
    git(clean, "remote", "remove", "origin")
    result = cli(clean, "publish")
    assert result.output == ("Error: --remote origin: no such remote; add your GitHub repository "
                             "with 'git remote add origin URL' (see 'git remote -v')\n")
    git(clean, "remote", "add", "origin", str(bare))
    result = cli(clean, "publish", "--remote", "upstream")
    assert result.output.startswith("Error: --remote upstream: no such remote; add your GitHub "
                                    "repository with 'git remote add upstream URL'")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    git(other, "checkout", "-q", "--orphan", "gh-pages")
    (other / "x.txt").write_text("someone else's")
    git(other, "add", "x.txt")
    git(other, "-c", "user.email=o@e.com", "-c", "user.name=O", "commit", "-q", "-m", "other")
    git(other, "push", "-q", "origin", "gh-pages")
    result = cli(clean, "publish")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("Error: push to origin/gh-pages rejected: ")


def test_a_build_killed_midway_leaves_the_old_site_whole(clean):
    for i in range(40):
        fake_export(make_tiny(clean, f"p{i:02d}"))
    assert cli(clean, "build").exit_code == 0
    before = tree(clean / "site")
    (clean / "portfolio/profile.yml").write_text(
        (clean / "portfolio/profile.yml").read_text().replace("Test Person", "Someone Else"))
    process = subprocess.Popen([sys.executable, "-m", "site_builder", "build"], cwd=clean,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (clean / "build/site.new").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert tree(clean / "site") == before
    result = cli(clean, "build")
    assert result.exit_code == 0
    assert "Someone Else" in (clean / "site/index.html").read_text()


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_init_new_run_build_in_a_new_folder(tmp_path):
    target = tmp_path / "mine"
    result = cli(tmp_path, "init", str(target))
    assert result.exit_code == 0, result.output
    files = {str(p.relative_to(target)) for p in target.rglob("*")
             if p.is_file() and ".git" not in p.relative_to(target).parts}
    assert files == {"mkdocs.yml", "portfolio/profile.yml", ".gitignore", "README.md",
                     ".github/workflows/pages.yml", "portfolio/projects/.gitkeep"}
    workflow = (target / ".github/workflows/pages.yml").read_text()
    assert "actions/deploy-pages@" in workflow and "portfolio build" in workflow
    assert "portfolio run" not in workflow
    again = cli(tmp_path, "init", str(target))
    assert again.exit_code == 1 and "exists already" in again.output
    assert cli(target, "new", "Breast cancer", "--no-input").exit_code == 0
    result = cli(target, "run", "--fast")
    assert result.exit_code == 0, result.output
    result = cli(target, "build")
    assert result.exit_code == 0, result.output
    assert "Breast cancer" in (target / "site/index.html").read_text()
