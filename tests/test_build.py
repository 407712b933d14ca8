"""`portfolio build` over fast-run projects: the pages, their links, and a failed build."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from site_builder import STEPS

from .conftest import cli, tree

pytestmark = [pytest.mark.kernel, pytest.mark.xdist_group("kernel")]


@pytest.fixture(scope="module")
def site(executed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("built") / "folio"
    shutil.copytree(executed, root, symlinks=True)
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    assert result.output == "built site\n"
    return root


def page(root: Path, rel: str) -> str:
    return (root / "site" / rel).read_text(encoding="utf-8")


def metric(root: Path, slug: str) -> dict:
    return json.loads((root / f"portfolio/projects/{slug}/export/metrics.json").read_text())


def test_home_page_has_a_card_per_project_with_metric_and_baseline(site):
    home = page(site, "index.html")
    assert "Test Person" in home and "Learns deep learning by building" in home
    for slug, title in (("breast-cancer-diagnosis", "Breast cancer diagnosis"),
                        ("heart-disease", "Heart disease")):
        m = metric(site, slug)
        card = re.search(rf'<div class="pf-card".*?{title}.*?</div>', home, re.S).group(0)
        assert f'href="projects/{slug}/"' in card
        assert f"accuracy {m['primary']['value']:.3f}" in card
        assert f"baseline {m['baseline']['value']:.3f}" in card
        assert "smoke run" in card and "5 of 5 steps" in card
    bc_card = re.search(r'<div class="pf-card".*?Breast cancer diagnosis.*?</div>', home, re.S)
    assert "reference 0.975" in bc_card.group(0)


def test_project_page_shows_steps_metrics_and_links(site):
    slug = "breast-cancer-diagnosis"
    html = page(site, f"projects/{slug}/index.html")
    m = metric(site, slug)
    assert f"<strong>{m['primary']['value']:.3f}</strong>" in html
    for number, title in enumerate(["Define the problem", "Prepare the data",
                                    "Evaluate algorithms", "Improve results",
                                    "Present results"], start=1):
        assert f"{number}. {title}" in html
    for step in STEPS:
        assert f'href="{step}/"' in html
        # The profile names the GitHub repository: the notebook files are linked there (export/
        # is committed), not copied into the site.
        assert ('href="https://github.com/test-person/portfolio/blob/main/portfolio/projects/'
                f'{slug}/export/notebooks/{step}.ipynb"') in html
        assert (site / "site/projects" / slug / step / "index.html").is_file()
    assert not (site / "site/projects" / slug / "files").exists()
    for figure in re.findall(r'src="(figures/[^"]+)"', html):
        assert (site / "site/projects" / slug / figure).is_file()
    # Every exported figure in its step's details; the errors figure again at the top, and
    # the error analysis' figures again in its section.
    exported = sorted(f"figures/{p.name}" for p in
                      (site / "portfolio/projects" / slug / "export/figures").iterdir())
    article = html[html.index("<article"):]
    steps = article[article.index('id="the-five-steps"'):]
    assert sorted(re.findall(r'src="(figures/[^"]+)"', steps)) == exported
    top = article[:article.index('id="the-five-steps"')]
    [errors] = re.findall(r'<img alt="[^"]*" class="pf-errors"[^>]* src="(figures/[^"]+)"', top)
    assert errors.startswith("figures/05_present_results-")
    assert set(re.findall(r'src="(figures/[^"]+)"', top)) <= set(exported)
    assert "https://colab.research.google.com/github/test-person/portfolio/blob/main/" \
           f"portfolio/projects/{slug}/export/notebooks/01_define_problem.ipynb" in html
    assert "model-index:" in html
    # The record of the run: built-in data is named by its loader, a CSV by its hash.
    assert "<td>Backend and device</td>\n<td>tensorflow on CPU</td>" in html
    # Text from files is written with character references (any the HTML shows as characters).
    assert "<td>Data</td>\n<td>built in: <code>sklearn.datasets.load_breast_cancer</code></td>" \
        in unescape(html)
    heart = page(site, "projects/heart-disease/index.html")
    data_hash = json.loads((site / "portfolio/projects/heart-disease/export/manifest.json")
                           .read_text())["inputs"]["data"]
    assert f"<td>Data</td>\n<td><code>{data_hash[:16]}</code> (hash of data/)</td>" in unescape(heart)


def test_notebook_pages_show_outputs_as_files_without_noise(site):
    html = page(site, "projects/breast-cancer-diagnosis/03_evaluate_algorithms/index.html")
    notebook = json.loads((site / "portfolio/projects/breast-cancer-diagnosis/export/notebooks/"
                                  "03_evaluate_algorithms.ipynb").read_text())
    printed = [line for cell in notebook["cells"] for output in cell.get("outputs", [])
               if output.get("name") == "stdout" for line in "".join(output["text"]).splitlines()
               if line.strip()]
    assert printed and printed[0] in unescape(html)  # what the step printed, as text
    assert "data:image" not in html
    # An output image that is an exported figure links to that file (one copy in the site);
    # any other image becomes a file named by its hash next to the page.
    images = re.findall(r'<img src="([^"]+\.png)"', html)
    assert images and all(re.fullmatch(r"\.\./figures/03_evaluate_algorithms-\d+\.png|[0-9a-f]{16}\.png",
                                       name) for name in images)
    page_dir = site / "site/projects/breast-cancer-diagnosis/03_evaluate_algorithms"
    assert all((page_dir / name).is_file() for name in images)
    for noise in ("WARNING:tensorflow", "absl::", "retracing"):
        assert noise not in html


def test_search_index_has_prose_not_notebook_outputs(site):
    index = json.loads(page(site, "search/search_index.json"))
    locations = {doc["location"] for doc in index["docs"]}
    assert not any(re.search(r"projects/[^/]+/0\d_", loc) for loc in locations)
    text = json.dumps(index)
    assert "Breast cancer diagnosis" in text
    assert "455 training rows" not in text


def test_every_internal_link_resolves(site):
    root = site / "site"
    for html_file in root.rglob("*.html"):
        for href in re.findall(r'(?:href|src)="([^"#?]+)', html_file.read_text()):
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue
            # MkDocs writes 404.html with links from the site root, for any missing URL.
            base = root if href.startswith("/") else html_file.parent
            target = (base / href.lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{html_file.relative_to(root)} -> {href}"


def test_a_failed_build_keeps_the_previous_site(site, tmp_path):
    root = tmp_path / "folio"
    shutil.copytree(site, root, symlinks=True)
    before = tree(root / "site")
    (root / "portfolio/profile.yml").write_text("headline: no name\n")
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == "Error: portfolio/profile.yml: field 'name': Field required\n"
    assert tree(root / "site") == before


def test_an_invalid_project_is_named_and_the_site_left_whole(site, tmp_path):
    root = tmp_path / "folio"
    shutil.copytree(site, root, symlinks=True)
    before = {name: tree(root / name) for name in ("site", "build")}
    config = root / "portfolio/projects/heart-disease/project.yml"
    config.write_text(config.read_text().replace("direction: maximize", "direction: upwards"))
    result = cli(root, "build")
    assert result.exit_code == 1
    assert result.output == (
        "Error: portfolio/projects/heart-disease/project.yml: field 'metric.direction': "
        "Input should be 'maximize' or 'minimize'; the site was left as it was\n")
    assert {name: tree(root / name) for name in ("site", "build")} == before
    assert "Heart disease" in page(root, "index.html")
