"""What a project page says about its result, and that it is true of the project: the findings
the notebooks recorded, the test score with its interval and what the interval says against
the baseline and the reference, the data card, step 5's error analysis, the best published
result as the third rung, the marks of a result that loses to its baseline, and what
`portfolio check` reports. No kernel: projects are exported by tests/tiny.py's fake_export."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from site_builder.site.audit import elements
from site_builder.site.pages import against

from .conftest import cli, make_portfolio
from .test_hostile_site import Texts, anchors, texts
from .tiny import fake_export, make_tiny

INTERVAL = {"low": 0.956, "high": 0.991, "level": 0.95, "n": 1000, "method": "bootstrap"}
FINDINGS = [
    {"text": "The tuned MLP beat the untuned one on cross-validation (0.976 against 0.969).",
     "step": "04_improve_results"},
    {"text": "Logistic regression scored best on cross-validation: <script>alert(1)</script> *x*",
     "step": "03_evaluate_algorithms"},
    {"text": "  ", "step": "05_present_results"},  # nothing to say: left out
]


def png(color: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(out, format="PNG")
    return out.getvalue()


def image_output(data: bytes) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(data).decode(), "text/plain": "<Figure>"}}


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def code(source: str, outputs: list[dict]) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": source,
            "outputs": outputs}


CONFUSION = png("navy")  # an exported figure of step 5
CALIBRATION = png("olive")  # an image output that is not an exported figure
ERROR_CELLS = [
    markdown("## Error analysis\n\nThe model confuses **few** malignant masses with benign ones."
             "<script>alert(1)</script>"),
    markdown("### Confusion matrix"),
    code("ConfusionMatrixDisplay.from_predictions(y_test, predicted)", [image_output(CONFUSION)]),
    markdown("### Most confident mistakes"),
    code("worst", [{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {
        "text/html": '<table onclick="alert(1)"><tr><th>row</th><th>p(malignant)</th></tr>'
                     '<tr><td>17</td><td>0.04</td></tr></table><script>alert(2)</script>',
        "text/plain": "row 17"}}]),
    markdown("#### Calibration"),
    code("CalibrationDisplay.from_predictions(y_test, proba)", [image_output(CALIBRATION)]),
    markdown("Where the errors are: near the boundary.\n\n## Save the model\n\nThe model is saved."),
    code("model.save(path)", [{"output_type": "stream", "name": "stdout", "text": "saved\n"}]),
]


def set_yaml(path: Path, **fields) -> None:
    data = yaml.safe_load(path.read_text())
    for key, value in fields.items():
        target = data
        *parents, last = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def honest(root: Path, slug: str = "honest", *, builtin: bool = True, score: float = 0.982,
           interval: dict | None = INTERVAL, error_analysis: bool = True, **config) -> Path:
    """A fake-exported project on the breast-cancer data (or a CSV of its own), its test score
    with an interval and findings, its step 5 with an error analysis."""
    project = make_tiny(root, slug)
    dataset = {"name": "breast_cancer", "source": "builtin"} if builtin else \
        {"name": "tiny", "source": "file", "path": "data/raw/tiny.csv", "target": "y"}
    set_yaml(project / "project.yml", model="Keras MLP", dataset=dataset, **config)
    fake_export(project, score=score)

    def metrics(data):
        data["baseline"].update(value=0.627, strategy="majority class")
        data["metrics"][0]["model"] = "Keras MLP"
        if interval:
            data["primary"]["interval"] = interval
            data["metrics"][0]["interval"] = interval
        data["findings"] = FINDINGS

    edit_json(project / "export/metrics.json", metrics)
    if error_analysis:
        (project / "export/figures/05_present_results-1.png").write_bytes(CONFUSION)
        edit_json(project / "export/notebooks/05_present_results.ipynb",
                  lambda nb: nb["cells"].extend(ERROR_CELLS))
    return project


def build(root: Path) -> None:
    result = cli(root, "build")
    assert (result.exit_code, result.output) == (0, "built site\n"), result.output


def page(root: Path, rel: str = "projects/honest/index.html") -> str:
    return (root / "site" / rel).read_text(encoding="utf-8")


def paragraph(html: str, start: str) -> str:
    [found] = [p for p in texts(html, "p") if p.startswith(start)]
    return " ".join(found.split())


def section(html: str, heading: str) -> str:
    """The HTML from an <h2> to the next one."""
    match = re.search(rf"<h2 id=\"[^\"]*\">{re.escape(heading)}<a.*?(?=<h2 |\Z)", html, re.S)
    assert match, heading
    return match.group(0)


@pytest.fixture
def built(tmp_path) -> Path:
    root = make_portfolio(tmp_path / "folio")
    honest(root)
    build(root)
    return root


# --- what was found, with the interval -------------------------------------------------

def test_the_top_names_the_model_that_made_the_test_score(tmp_path):
    """The final model can be other than project.yml's `model` (an ensemble, an average with
    a classical model): the page names the one whose record holds the test score."""
    root = make_portfolio(tmp_path / "folio")
    project = honest(root)
    edit_json(project / "export/metrics.json",
              lambda data: data["metrics"][0].update(model="Ensemble of 3 MLPs"))
    build(root)
    html = page(root)
    assert paragraph(html, "What was found.").startswith(
        "What was found. Ensemble of 3 MLPs scores accuracy 0.982 (95 % interval")
    assert "Ensemble of 3 MLPs, test set; 95 % interval" in html


def test_the_top_says_the_score_with_its_interval_and_what_the_interval_says(built):
    html = page(built)
    assert paragraph(html, "What was found.") == (
        "What was found. Keras MLP scores accuracy 0.982 (95 % interval 0.956–0.991) on the "
        "held-out test set. The naive baseline 0.627 (majority class) lies below the interval: "
        "this result is clearly better than it. The reference 0.975 lies inside the interval: "
        "this result is level with it, not clearly better.")
    assert paragraph(html, "Test score:") == (
        "Test score: accuracy 0.982 (95 % interval 0.956–0.991). · Read the notebook · Source on "
        "GitHub · Open in Colab")
    assert "Test metrics: accuracy 0.982 (95 % CI 0.956–0.991)" in \
        [" ".join(t.split()) for t in texts(html, "li")]
    compare = section(html, "How it compares")
    assert ["This project", "0.982", "Keras MLP, test set; 95 % interval 0.956–0.991 (bootstrap, "
            "1000 resamples)"] == texts(compare, "td")[3:6]


def test_the_findings_are_listed_as_text_each_with_its_steps_notebook(built):
    html = page(built)
    start = html.index("What the notebooks concluded.")
    items = [" ".join(t.split()) for t in texts(html[start:], "li")[:2]]
    assert items == [
        "Logistic regression scored best on cross-validation: <script>alert(1)</script> *x* "
        "(step 3)",
        "The tuned MLP beat the untuned one on cross-validation (0.976 against 0.969). (step 4)"]
    assert ("03_evaluate_algorithms/", "step 3") in anchors(html[start:])
    assert ("04_improve_results/", "step 4") in anchors(html[start:])
    assert "<script>alert(1)" not in html and "<em>x</em>" not in html


def test_the_results_are_listed_open_and_how_the_model_was_chosen_folded(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    project = honest(root)
    edit_json(project / "export/metrics.json", lambda data: data["findings"].append(
        {"text": "Test accuracy 0.982; 2 of 114 rows are misclassified.",
         "step": "05_present_results"}))
    build(root)
    html = page(root)
    start = html.index("What the notebooks concluded.")
    block = html[start:html.index("</details>", start)]
    opened, folded = block.split("<details", 1)
    assert [" ".join(t.split()) for t in texts(opened, "li")] == [
        "Test accuracy 0.982; 2 of 114 rows are misclassified. (step 5)"]
    assert "How the model was chosen: 2 conclusions of steps 1-4" in folded
    assert [" ".join(t.split()) for t in texts(folded, "li")] == [
        "Logistic regression scored best on cross-validation: <script>alert(1)</script> *x* "
        "(step 3)",
        "The tuned MLP beat the untuned one on cross-validation (0.976 against 0.969). (step 4)"]


@pytest.mark.parametrize(("direction", "value", "low", "high", "said"), [
    ("maximize", 0.975, 0.956, 0.991, "The reference 0.975 lies inside the interval: this result "
                                      "is level with it, not clearly better."),
    ("maximize", 0.987, 0.956, 0.991, "The reference 0.987 lies inside the interval: this result "
                                      "is level with it, not clearly worse."),
    ("maximize", 0.950, 0.956, 0.991, "The reference 0.950 lies below the interval: this result "
                                      "is clearly better than it."),
    ("maximize", 0.995, 0.956, 0.991, "The reference 0.995 lies above the interval: this result "
                                      "is clearly worse than it."),
    ("minimize", 19.4, 16.0, 18.9, "The reference 19.4 lies above the interval: this result is "
                                   "clearly better than it."),
    ("minimize", 15.5, 16.0, 18.9, "The reference 15.5 lies below the interval: this result is "
                                   "clearly worse than it."),
    ("minimize", 17.5, 16.0, 18.9, "The reference 17.5 lies inside the interval: this result is "
                                   "level with it, not clearly better."),
    ("minimize", 16.5, 16.0, 18.9, "The reference 16.5 lies inside the interval: this result is "
                                   "level with it, not clearly worse."),
])
def test_where_the_reference_lies_against_the_interval(direction, value, low, high, said):
    score = 0.982 if direction == "maximize" else 17.2
    view = SimpleNamespace(config=SimpleNamespace(metric=SimpleNamespace(direction=direction)),
                           primary={"value": score})
    shown = f"{value:.3f}" if direction == "maximize" else f"{value:.4g}"
    interval = {"low": low, "high": high, "level": 0.95}
    assert against(view, interval, f"reference {shown}", value) == said


def test_a_score_recorded_without_an_interval_reads_as_before(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    honest(root, interval=None)
    build(root)
    html = page(root)
    assert paragraph(html, "What was found.") == (
        "What was found. Keras MLP scores accuracy 0.982 on the held-out test set, better than "
        "the naive baseline (0.627, majority class) and level with or ahead of the published "
        "reference (0.975).")
    assert "interval" not in paragraph(html, "What was found.")
    assert "CI" not in page(root, "leaderboard/index.html")


def test_cards_and_leaderboard_show_the_interval_compactly(built):
    home = page(built, "index.html")
    card = re.search(r'<div class="pf-card".*?</div>', home, re.S).group(0)
    assert "<strong>accuracy 0.982</strong> (95 % CI 0.956–0.991) · baseline 0.627 · reference " \
           "0.975" in card
    [chart] = re.findall(r'<svg class="pf-card-chart"[^>]*aria-label="([^"]*)"', card)
    assert chart == ("accuracy: this project 0.982; baseline 0.627; reference 0.975; 95 % "
                     "interval of this project 0.956–0.991 (higher is better)")
    assert 'class="pf-cc-interval"' in card
    board = page(built, "leaderboard/index.html")
    assert texts(board, "th")[5] == "result (95 % CI)"
    assert texts(board, "td")[5] == "0.982 (0.956–0.991)"


# --- the ladder: best published as the third rung --------------------------------------

def test_the_best_published_result_is_the_third_rung(built):
    compare = section(page(built), "How it compares")
    cells = texts(compare, "td")
    rows = [cells[i:i + 3] for i in range(0, len(cells), 3)]
    assert [row[:2] for row in rows] == [["Naive baseline", "0.627"], ["This project", "0.982"],
                                         ["Reference", "0.975"], ["Best published", "0.990"]]
    assert rows[3][2] == ("multilayer perceptron; one 70/30 train/test split, settings chosen by "
                          "hand (about 99.04 % as reported); Agarap, ICMLSC 2018 (arXiv:1711.07831)")
    assert ("https://arxiv.org/abs/1711.07831", "Agarap, ICMLSC 2018 (arXiv:1711.07831)") in \
        anchors(compare)
    assert ("https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic",
            "UCI Machine Learning Repository, wdbc.names (Street, Wolberg and Mangasarian, 1993)") \
        in anchors(compare)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "breast_cancer"])
def test_every_best_published_rung_of_the_registry_is_shown(tmp_path, name):
    """The registry's rungs name no metric of their own: they are in the dataset's."""
    from site_builder.registry import entry

    best = entry(name)["best"]
    root = make_portfolio(tmp_path / "folio")
    honest(root, **{"dataset.name": name})
    build(root)
    cells = texts(section(page(root), "How it compares"), "td")
    row = cells.index("Best published")
    assert cells[row + 1] == f"{best['value']:.3f}"
    assert cells[row + 2].endswith(best["source"])


@pytest.mark.parametrize(("name", "metric"), [("diabetes", "rmse"), ("sunspots", "rmse"),
                                              ("digits", "accuracy")])
def test_no_best_published_rung_where_none_was_sourced(tmp_path, name, metric):
    root = make_portfolio(tmp_path / "folio")
    honest(root, **{"dataset.name": name, "metric.name": metric})
    build(root)
    assert "Best published" not in page(root)


def test_own_data_has_no_reference_and_no_best_published(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    honest(root, builtin=False)
    build(root)
    compare = section(page(root), "How it compares")
    assert "Best published" not in compare
    assert ["Reference", "—", "own data: no published reference"] == texts(compare, "td")[6:9]


# --- the data card -----------------------------------------------------------------------

def card_items(html: str) -> list[str]:
    """The data card: source and licence in a line, then (folded) description and citation."""
    data = section(html, "The data")
    return [" ".join(texts(data, "p")[0].split())] + [" ".join(t.split()) for t in texts(data, "li")]


def test_built_in_data_shows_the_registrys_card_where_project_yml_leaves_it_empty(built):
    from site_builder.registry import entry

    card = entry("breast_cancer")["card"]
    assert card_items(page(built)) == [
        f"Source: {card['source']} · Licence: {card['licence']}",
        f"What they are: {card['description']}",
        f"Citation: {card['citation']}"]
    assert '<summary>What they are and how to cite them</summary>' in section(page(built), "The data")
    assert anchors(section(page(built), "The data"))[1:] == [(card["source"], card["source"])]


def test_own_data_shows_its_own_card_and_not_stated_where_it_is_empty(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    honest(root, builtin=False, **{"dataset.description": "Penguins <b>of</b> *Palmer*",
                                   "dataset.url": "https://example.org/penguins?a=1&b=2 (a mirror)",
                                   "dataset.citation": "Horst et al. [2020](javascript:x)"})
    build(root)
    html = page(root)
    assert card_items(html) == [
        "Source: https://example.org/penguins?a=1&b=2 (a mirror) · Licence: not stated",
        "What they are: Penguins <b>of</b> *Palmer*",
        "Citation: Horst et al. [2020](javascript:x)"]
    assert ("https://example.org/penguins?a=1&b=2", "https://example.org/penguins?a=1&b=2") in \
        anchors(section(html, "The data"))
    set_yaml(root / "portfolio/projects/honest/project.yml",
             **{"dataset.url": "javascript:alert(1)", "dataset.description": ""})
    build(root)
    html = page(root)
    assert card_items(html)[:2] == ["Source: javascript:alert(1) · Licence: not stated",
                                    "What they are: not stated"]
    assert [href for href, _ in anchors(section(html, "The data"))] == ["#the-data"]  # its ¶


# --- the error analysis --------------------------------------------------------------------

def test_the_error_analysis_is_its_own_section_made_safe_with_its_figures_as_files(built):
    html = page(built)
    errors = section(html, "Error analysis")
    assert [p for p in texts(errors, "p") if p][0] == \
        "The model confuses few malignant masses with benign ones."
    # The confusion matrix is the exported figure (one file); the calibration curve, an output
    # image, becomes a file next to step 5's page. Each has the heading it sits under as alt.
    calibration = f"05_present_results/{hashlib.sha256(CALIBRATION).hexdigest()[:16]}.png"
    assert images(errors) == [("Confusion matrix", "figures/05_present_results-1.png"),  # the top
                              ("Confusion matrix", "figures/05_present_results-1.png"),
                              ("Calibration", calibration)]
    assert (built / "site/projects/honest" / calibration).read_bytes() == CALIBRATION
    # The table stays, its script and handler do not; the part ends at the next "## " heading.
    assert texts(errors, "td") == ["17", "0.04"]
    assert "onclick" not in errors and "alert" not in errors and "<script" not in errors
    assert "Where the errors are: near the boundary." in texts(errors, "p")
    assert "The model is saved." not in errors and "saved\n" not in errors
    # Its headings are read as headings, one level under the section's, and are folded.
    assert subheads(errors) == [("3", "Confusion matrix"), ("3", "Most confident mistakes"),
                                ("4", "Calibration")]
    assert errors.index("pf-fold") < errors.index("Most confident mistakes")
    # Step 5's details no longer repeat it.
    article = html[html.index("<article"):]
    step5 = article[article.index("5. Present results"):article.index("Metrics")]
    assert "confuses" not in step5 and "near the boundary" not in step5
    assert "The model is saved." in step5


def test_a_figure_right_under_the_error_analysis_heading_is_the_models_errors(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    project = honest(root, error_analysis=False)
    (project / "export/figures/05_present_results-1.png").write_bytes(CONFUSION)
    edit_json(project / "export/notebooks/05_present_results.ipynb",
              lambda nb: nb["cells"].extend([ERROR_CELLS[0], ERROR_CELLS[2]]))
    build(root)
    errors = section(page(root), "Error analysis")
    assert images(errors)[0] == ("The model's errors on the test set",
                                 "figures/05_present_results-1.png")
    assert "The model's errors on the test set, from step 5 (the notebook explains it)." in \
        [" ".join(p.split()) for p in texts(errors, "p")]


@pytest.mark.parametrize(("size", "wide"), [((40, 30), False), ((90, 30), True)])
def test_a_wide_errors_figure_is_shown_across_the_page(tmp_path, size, wide):
    """Beside the text on a wide screen, a figure of panels side by side would be too small."""
    from PIL import Image

    root = make_portfolio(tmp_path / "folio")
    project = honest(root, error_analysis=False)
    Image.new("RGB", size, "navy").save(project / "export/figures/05_present_results-1.png")
    build(root)
    [classes] = [e.get("class") for e in elements(page(root)) if e.tag == "img"
                 and "pf-errors" in (e.get("class") or "")]
    assert classes == ("pf-errors pf-errors-wide" if wide else "pf-errors")


def test_without_an_error_analysis_the_errors_figure_stands_alone(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    project = honest(root, error_analysis=False)
    (project / "export/figures/05_present_results-1.png").write_bytes(CONFUSION)
    build(root)
    errors = section(page(root), "Error analysis")
    assert images(errors) == [
        ("The model's errors on the test set", "figures/05_present_results-1.png")]
    assert "pf-fold" not in errors


# --- the table of contents -----------------------------------------------------------------

def images(html: str) -> list[tuple[str, str]]:
    return [(e.get("alt"), e.get("src")) for e in elements(html) if e.tag == "img"]


def subheads(html: str) -> list[tuple[str, str]]:
    """(aria-level, text) of each heading inside a folded block."""
    return [(attrs["aria-level"], text) for tag, attrs, parts in Texts(html).found
            if (text := "".join(parts)) and attrs.get("role") == "heading"]


def toc(html: str) -> list[str]:
    nav = re.search(r'<nav class="md-nav md-nav--secondary".*?</nav>\s*</div>', html, re.S)
    return [" ".join(t.split()) for t in re.findall(
        r'<span class="md-ellipsis">(.*?)</span>', nav.group(0), re.S)] if nav else []


def test_the_table_of_contents_lists_no_heading_inside_a_folded_block(built):
    notebook = built / "portfolio/projects/honest/export/notebooks/03_evaluate_algorithms.ipynb"
    edit_json(notebook, lambda nb: nb["cells"].extend([
        markdown("Step three compares models.\n\n## The candidates\n\nSeveral."),
        markdown("### What we learned\n\nMuch.")]))
    build(built)
    html = page(built)
    assert toc(html) == ["How it compares", "Error analysis", "The data", "The five steps",
                         "1. Define the problem", "2. Prepare the data", "3. Evaluate algorithms",
                         "4. Improve results", "5. Present results",
                         "Metrics, model card and record of the run"]
    assert subheads(html) == [("3", "Confusion matrix"), ("3", "Most confident mistakes"),
                              ("4", "Calibration"), ("4", "The candidates"),
                              ("5", "What we learned"), ("4", "Save the model"),
                              ("3", "Every metric recorded"),
                              ("3", "Model card: use, data, test metrics and limitations"),
                              ("3", "Record of the run: seed, device, versions, hashes and run "
                                    "times")]


# --- a result that does not beat its baseline ----------------------------------------------

def test_a_result_below_its_baseline_is_marked_on_card_page_and_leaderboard(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    honest(root, score=0.60, interval={**INTERVAL, "low": 0.52, "high": 0.67})
    build(root)
    card = re.search(r'<div class="pf-card".*?</div>', page(root, "index.html"), re.S).group(0)
    assert '<span class="pf-worse">does not beat its baseline</span>' in card
    html = page(root)
    assert "Does not beat its baseline" in texts(html, "p", **{"class": "admonition-title"})
    assert paragraph(html, "What was found.").endswith(
        "The naive baseline 0.627 (majority class) lies inside the interval: this result is level "
        "with it, not clearly worse. The reference 0.975 lies above the interval: this result is "
        "clearly worse than it.")
    board = page(root, "leaderboard/index.html")
    assert texts(board, "td")[5] == "0.600 (0.520–0.670) below baseline"
    assert '<span class="pf-worse">below baseline</span>' in board


# --- portfolio check -------------------------------------------------------------------------

def check_lines(root: Path):
    result = cli(root, "check")
    return result.exit_code, result.stdout.splitlines(), result.stderr.splitlines()


def test_check_reports_a_result_below_its_baseline_in_one_line(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    honest(root, "loser", score=0.60)
    honest(root, "winner", summary="Wins.")
    code_, out, err = check_lines(root)
    assert code_ == 1
    assert out == [
        "portfolio/projects/loser/export/metrics.json: project 'loser': the test score (accuracy "
        "0.600) does not beat the naive baseline (0.627), the site marks it on its card, its page "
        "and the leaderboard; to publish it so, use --force below-baseline"]
    assert err[-1] == "Error: 1 finding(s) (below-baseline)"


def test_check_warns_of_a_data_card_without_licence_or_source(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    honest(root, "penguins", builtin=False)
    honest(root, "licensed", builtin=False, summary="Licensed.",
           **{"dataset.licence": "CC0", "dataset.url": "https://example.org/d"})
    honest(root, "diabetes", summary="Diabetes.", **{"dataset.name": "diabetes"})
    code_, out, err = check_lines(root)
    assert (code_, out) == (0, ["no findings"])
    assert err == [
        "warning: portfolio/projects/diabetes/project.yml: the data card names no licence "
        "(dataset.licence), readers cannot tell whether the data may be used",
        "warning: portfolio/projects/penguins/project.yml: the data card names no licence "
        "(dataset.licence), readers cannot tell whether the data may be used",
        "warning: portfolio/projects/penguins/project.yml: the data card names no source "
        "(dataset.url), readers cannot tell where the data come from"]


def test_check_finds_a_project_without_its_own_summary(tmp_path):
    from site_builder.placeholders import TEMPLATE_SUMMARY

    root = make_portfolio(tmp_path / "folio")
    honest(root, "alpha", summary="")
    honest(root, "beta", summary=TEMPLATE_SUMMARY)
    honest(root, "gamma", summary="Tells malignant from benign masses.")
    code_, out, err = check_lines(root)
    assert code_ == 1
    assert out == [
        "portfolio/projects/beta/project.yml: field 'summary' is still the template's default "
        "'A predictive-modelling project worked...', an example from portfolio init or the "
        "template; replace it with your own before publishing",
        "portfolio/projects/alpha/project.yml: field 'summary' is empty, a card and a link "
        "preview show it; write one sentence on what this project asks and finds"]
    assert err[-1] == "Error: 2 finding(s) (placeholder)"


@pytest.mark.parametrize(("paragraph", "shown", "folded"), [
    ("<p>Short. Two.</p>", "<p>Short. Two.</p>", ""),
    ("<p>" + "A first sentence that is long enough to be a summary on its own, " * 3
     + "ending here. Then <code>a.b()</code> more. Last.</p>",
     "<p>" + "A first sentence that is long enough to be a summary on its own, " * 3
     + "ending here.</p>", "<p>Then <code>a.b()</code> more. Last.</p>"),
    # Never inside an element: <strong>'s sentences stay whole.
    ("<p><strong>" + "Bold words. " * 20 + "</strong> After.</p>",
     "<p><strong>" + "Bold words. " * 20 + "</strong> After.</p>", ""),
])
def test_a_steps_summary_is_its_first_sentences_the_rest_folded(paragraph, shown, folded):
    from site_builder.site.pages import _short_summary

    assert _short_summary(paragraph) == (shown, folded)


def test_the_error_analysis_tables_label_each_value_with_its_column():
    """On a phone (and for a table of many columns everywhere) a row shows as labelled values."""
    import pandas as pd

    from site_builder.site.nbrender import label_cells
    from site_builder.site.sanitize import clean_html

    quartiles = pd.DataFrame({"test rows": [26], 'RMSE "<b>"': [42.1]},
                             index=pd.Index(["up to 4.277"], name="ltg"))
    html = label_cells(clean_html(quartiles.to_html()))
    cells = [(e.tag, e.get("data-label")) for e in elements(html) if e.tag in ("th", "td")]
    assert cells[-3:] == [("th", "ltg"), ("td", "test rows"), ("td", 'RMSE "<b>"')]
    assert 'class="dataframe"' in html
    wide = label_cells(clean_html(pd.DataFrame([range(7)], columns=list("abcdefg")).to_html()))
    assert '<table class="dataframe pf-wide">' in wide
    assert label_cells("<table><tr><td>1</td></tr></table>") == "<table><tr><td>1</td></tr></table>"
