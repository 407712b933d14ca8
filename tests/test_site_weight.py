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


# --- home page order, honesty marks, covers and link previews ----------------------------

def card_order(root: Path) -> list[str]:
    home = (root / "site/index.html").read_text()
    return re.findall(r'<h3 id="[^"]*"><a href="projects/([^/"]+)/"', home)


def set_finished(project: Path, when: str) -> None:
    path = project / "export/manifest.json"
    manifest = json.loads(path.read_text())
    manifest["finished"] = when
    path.write_text(json.dumps(manifest))


def test_home_page_shows_featured_first_then_the_owners_order_then_the_latest_run(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    for slug, finished in (("alpha", "2026-01-01T00:00"), ("beta", "2026-03-01T00:00"),
                           ("gamma", "2026-02-01T00:00"), ("delta", "2025-01-01T00:00")):
        project = make_tiny(root, slug)
        fake_export(project)
        set_finished(project, finished)
    assert cli(root, "build").exit_code == 0
    assert card_order(root) == ["beta", "gamma", "alpha", "delta"]  # the latest run first
    profile = root / "portfolio/profile.yml"
    profile.write_text(profile.read_text() + "order: [delta, alpha]\n")
    config = root / "portfolio/projects/gamma/project.yml"
    config.write_text(config.read_text() + "featured: true\n")
    assert cli(root, "build").exit_code == 0
    assert card_order(root) == ["gamma", "delta", "alpha", "beta"]
    leaderboard = (root / "site/leaderboard/index.html").read_text()
    assert re.findall(r'href="\.\./projects/([^/"]+)/"', leaderboard) == card_order(root)


@pytest.mark.parametrize(("order", "line"), [
    ("[alpha, nowhere]", "Error: portfolio/profile.yml: field 'order': no project 'nowhere' in "
                         "portfolio/projects/\n"),
    ("[Not A Slug]", None),
    ("alpha", None),
])
def test_an_order_naming_no_project_is_an_error(tmp_path, order, line):
    root = make_portfolio(tmp_path / "folio")
    fake_export(make_tiny(root, "alpha"))
    profile = root / "portfolio/profile.yml"
    profile.write_text(profile.read_text() + f"order: {order}\n")
    result = cli(root, "build")
    assert result.exit_code == 1
    assert not (root / "site").exists()
    if line:
        assert result.output == line
    else:  # the schema's own message, naming the file and the field
        assert result.output.startswith("Error: portfolio/profile.yml: field 'order")


def test_a_project_that_loses_to_its_baseline_is_marked_and_a_smoke_run_stays_marked(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    fake_export(make_tiny(root, "loser"), score=0.25)  # the baseline is 0.5, higher is better
    fake_export(make_tiny(root, "quick"), smoke=True, score=0.75)
    assert cli(root, "build").exit_code == 0
    home = (root / "site/index.html").read_text()
    cards = dict(zip(card_order(root), home.split('class="pf-card"')[1:], strict=True))
    assert '<span class="pf-worse">does not beat its baseline</span>' in cards["loser"]
    assert "pf-worse" not in cards["quick"]
    assert '<span class="pf-smoke">smoke run</span>' in cards["quick"]
    assert "pf-smoke" not in cards["loser"]
    page = (root / "site/projects/loser/index.html").read_text()
    assert "Does not beat its baseline" in page
    assert "The test score (0.250) is no better than the naive baseline's (0.500)" in page
    assert "worse than the naive baseline (0.500, coin flip)" in page
    assert "Does not beat its baseline" not in (root / "site/projects/quick/index.html").read_text()
    leaderboard = (root / "site/leaderboard/index.html").read_text()
    assert '0.250 <span class="pf-worse">below baseline</span>' in leaderboard


def test_link_previews_are_png_of_1200_by_630_and_an_owners_cover_is_the_cards_image(built):
    from PIL import Image

    for slug in ("alpha", "beta"):
        with Image.open(built / f"site/projects/{slug}/og.png") as image:
            assert (image.format, image.size) == ("PNG", (1200, 630))
    home = (built / "site/index.html").read_text()
    assert home.count('class="pf-card-chart"') == 2 and "thumb.webp" not in home
    config = built / "portfolio/projects/alpha/project.yml"
    config.write_text(config.read_text() + "cover: 05_present_results-1.png\n")
    assert cli(built, "build").exit_code == 0
    home = (built / "site/index.html").read_text()
    assert home.count('class="pf-card-chart"') == 1
    assert re.search(r'<img alt="Alpha"[^>]* src="projects/alpha/thumb\.webp"', home)
    with Image.open(built / "site/projects/alpha/thumb.webp") as image:
        assert image.format == "WEBP"


def test_the_errors_figure_is_the_step_5_figure_whose_code_names_them(built):
    page = (built / "site/projects/alpha/index.html").read_text()
    # The only step-5 figure, whose cell does not name errors: taken as the first of step 5.
    [errors] = re.findall(r'<img alt="([^"]*)" class="pf-errors"[^>]* src="([^"]+)"', page)
    assert errors[1] == "figures/05_present_results-1.png"
    project = built / "portfolio/projects/alpha"
    second = png("purple")
    (project / "export/figures/05_present_results-2.png").write_bytes(second)
    notebook = project / "export/notebooks/05_present_results.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"].insert(4, {"cell_type": "markdown", "metadata": {}, "source": "## Where it errs"})
    nb["cells"].insert(5, {"cell_type": "code", "metadata": {}, "execution_count": 1,
                           "source": "ConfusionMatrixDisplay.from_predictions(y, pred)",
                           "outputs": [{"output_type": "display_data", "metadata": {}, "data": {
                               "image/png": base64.b64encode(second).decode(),
                               "text/plain": "<Figure>"}}]})
    notebook.write_text(json.dumps(nb))
    assert cli(built, "build").exit_code == 0
    page = (built / "site/projects/alpha/index.html").read_text()
    [errors] = re.findall(r'<img alt="([^"]*)" class="pf-errors"[^>]* src="([^"]+)"', page)
    assert errors == ("Where it errs", "figures/05_present_results-2.png")
    # Every figure of the page has alt text: its caption, else the step and its number.
    alts = re.findall(r'<img alt="([^"]*)"', page)
    assert "Where it errs" in alts and all(alt.strip() for alt in alts)
