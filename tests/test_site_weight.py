"""What the built site carries, and what it leaves out to stay small as a portfolio grows."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest

from .conftest import cli, make_portfolio
from .tiny import fake_export, make_tiny


def png(color: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="PNG")
    return out.getvalue()


def with_figure(project: Path) -> bytes:
    """An exported figure that is also an image output of step 5, as `portfolio run` writes."""
    data = png("teal")
    (project / "export/figures/05_present_results-1.png").write_bytes(data)
    notebook = project / "export/notebooks/05_present_results.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"][3]["outputs"] = [
        {"output_type": "display_data", "metadata": {},
         "data": {"image/png": base64.b64encode(data).decode(), "text/plain": "<Figure>"}},
        {"output_type": "display_data", "metadata": {},
         "data": {"image/png": base64.b64encode(png("orange")).decode(), "text/plain": "x"}}]
    notebook.write_text(json.dumps(nb))
    return data


@pytest.fixture
def built(tmp_path) -> Path:
    root = make_portfolio(tmp_path / "folio")
    project = make_tiny(root, "alpha")
    fake_export(project)
    with_figure(project)
    fake_export(make_tiny(root, "beta"))
    assert cli(root, "build").exit_code == 0
    return root


def test_an_exported_figure_is_in_the_site_once(built):
    step = built / "site/projects/alpha/05_present_results"
    html = (step / "index.html").read_text()
    images = re.findall(r'<img src="([^"]+)" alt="Alpha', html)
    assert images[0] == "../figures/05_present_results-1.png"  # the export's file, not a copy
    assert re.fullmatch(r"[0-9a-f]{16}\.png", images[1])  # an image that is not a figure
    assert (step / images[1]).is_file()
    assert sorted(p.name for p in step.iterdir()) == sorted(["index.html", images[1]])
    assert (built / "site/projects/alpha/figures/05_present_results-1.png").is_file()


def test_notebook_files_are_linked_on_github_or_copied_without_a_repository(built, tmp_path):
    project = (built / "site/projects/alpha/index.html").read_text()
    assert "https://github.com/test-person/portfolio/blob/main/portfolio/projects/alpha/export/" \
           "notebooks/03_evaluate_algorithms.ipynb" in project
    assert not (built / "site/projects/alpha/files").exists()
    notebook = (built / "site/projects/alpha/03_evaluate_algorithms/index.html").read_text()
    assert "export/notebooks/03_evaluate_algorithms.ipynb" in notebook

    profile = built / "portfolio/profile.yml"
    profile.write_text(re.sub(r"repository: .*\n", "", profile.read_text()))
    assert cli(built, "build").exit_code == 0
    project = (built / "site/projects/alpha/index.html").read_text()
    assert 'href="files/03_evaluate_algorithms.ipynb"' in project
    assert "github.com/test-person/portfolio/blob" not in project
    assert (built / "site/projects/alpha/files/03_evaluate_algorithms.ipynb").read_bytes() == \
        (built / "portfolio/projects/alpha/export/notebooks/03_evaluate_algorithms.ipynb").read_bytes()
    notebook = (built / "site/projects/alpha/03_evaluate_algorithms/index.html").read_text()
    assert 'href="../files/03_evaluate_algorithms.ipynb"' in notebook


def test_theme_files_no_page_loads_are_left_out(built):
    assets = built / "site/assets"
    assert (assets / "javascripts").is_dir() and (assets / "stylesheets").is_dir()
    assert not list(assets.rglob("*.map"))
    assert not (assets / "javascripts/lunr").exists()  # the search is in English only
    index = json.loads((built / "site/search/search_index.json").read_text())
    assert index["config"]["lang"] == ["en"]


def test_the_search_index_has_prose_not_tables_of_numbers_or_tag_lists(built):
    index = json.loads((built / "site/search/search_index.json").read_text())
    locations = {doc["location"] for doc in index["docs"]}
    assert "projects/alpha/" in locations
    assert not any(re.search(r"#(metrics|model-card|record-of-the-run)$", loc) for loc in locations)
    assert not any(loc.startswith("tags/") for loc in locations)
    assert (built / "site/tags/tiny/index.html").is_file()
