"""What `portfolio build` and `portfolio check` do with export/model/browser.json and
model.onnx: the page's "Try the model" section and its files, the runtime copied only where a
page uses it, a project without a browser model, and a browser.json that cannot be used."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import REPO, cli

SLUGS = ("breast-cancer-mlp", "diabetes-mlp", "digits-cnn", "sunspots-lstm")
RUNTIME = ["LICENSE.txt", "SOURCE.txt", "ort-wasm-simd-threaded.mjs",
           "ort-wasm-simd-threaded.wasm", "ort.wasm.min.mjs", "sizes.json"]
UNAVAILABLE = ("the preprocessing step FunctionTransformer has no browser form (imputers, "
               "StandardScaler, MinMaxScaler and OneHotEncoder have)")


@pytest.fixture
def folio(tmp_path) -> Path:
    """The shipped examples with their committed exports (no run needed to build them)."""
    root = tmp_path / "folio"
    shutil.copytree(REPO / "portfolio", root / "portfolio",
                    ignore=shutil.ignore_patterns(".portfolio", "artifacts", "prepared"))
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    return root


def model_dir(root: Path, slug: str) -> Path:
    return root / "portfolio/projects" / slug / "export/model"


def build(root: Path):
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    return root / "site"


def test_each_page_offers_the_model_and_the_site_serves_its_files(folio):
    site = build(folio)
    assert sorted(p.name for p in (site / "assets/onnxruntime-web").iterdir()) == RUNTIME
    for slug in SLUGS:
        assert sorted(p.name for p in (site / "projects" / slug / "try").iterdir()) == [
            "browser.json", "model.onnx"]
        served = json.loads((site / "projects" / slug / "try/browser.json").read_text())
        assert served == json.loads((model_dir(folio, slug) / "browser.json").read_text())
        assert (site / "projects" / slug / "try/model.onnx").read_bytes() == \
            (model_dir(folio, slug) / "model.onnx").read_bytes()
        html = (site / "projects" / slug / "index.html").read_text()
        assert '<h2 id="try-the-model">Try the model' in html
        assert ('<div class="pf-try" data-model="try/model.onnx" data-spec="try/browser.json">'
                in html)
        # Nothing of it is loaded by the page itself: no script, module or model is linked.
        assert "try-model.mjs" not in html and "onnxruntime-web" not in html
    digits = (site / "projects/digits-cnn/index.html").read_text()
    assert "For these small grey images you can also draw one." in digits


def test_a_project_without_a_browser_model_keeps_its_page_and_check_says_why(folio):
    for slug in SLUGS:
        model = model_dir(folio, slug)
        (model / "model.onnx").unlink()
        if slug == "diabetes-mlp":
            (model / "browser.json").unlink()  # an export of an earlier version of the kit
        elif slug == "digits-cnn":  # its reason printed on one line, whatever it holds
            (model / "browser.json").write_text(json.dumps(
                {"format": 1, "unavailable": "no\nFAKE: no findings\r\x07 form"}))
        else:
            (model / "browser.json").write_text(json.dumps(
                {"format": 1, "unavailable": UNAVAILABLE}))
    site = build(folio)
    assert not (site / "assets/onnxruntime-web").exists()  # no page uses the runtime
    for slug in SLUGS:
        assert not (site / "projects" / slug / "try").exists()
        html = (site / "projects" / slug / "index.html").read_text()
        assert "Try the model" not in html and "pf-try" not in html
    result = cli(folio, "check")
    lines = result.output.splitlines()
    assert ("warning: portfolio/projects/breast-cancer-mlp/export/model/browser.json: no "
            f"in-browser model, the page goes without it ({UNAVAILABLE})") in lines
    assert not any("diabetes-mlp/export/model/browser.json" in line for line in lines)
    assert ("warning: portfolio/projects/digits-cnn/export/model/browser.json: no in-browser "
            "model, the page goes without it (no FAKE: no findings form)") in lines


@pytest.mark.parametrize(("change", "error"), [
    (lambda m: (m / "browser.json").write_text("{not json"),
     "browser.json: not valid JSON (Expecting property name enclosed in double quotes: line 1 "
     "column 2 (char 1))"),
    (lambda m: (m / "model.onnx").unlink(),
     "model.onnx: missing, but browser.json names it (run 'portfolio run' again)"),
    (lambda m: _edit(m, lambda s: s.update(classes="benign")),
     "browser.json: field 'classes': Input should be a valid list"),
    (lambda m: _edit(m, lambda s: s.update(script="<script>alert(1)</script>")),
     "browser.json: field 'script': Extra inputs are not permitted"),
    (lambda m: _edit(m, lambda s: s["examples"][0]["expected"].append(0.5)),
     "browser.json: field '(top level)': each example's 'expected' needs 2 outputs"),
    (lambda m: _edit(m, lambda s: s["examples"][0]["values"].pop("mean radius")),
     "browser.json: field '(top level)': each example needs a value for each field"),
    (lambda m: (m / "model.onnx").unlink() or os.symlink("/etc/passwd", m / "model.onnx"),
     "model.onnx: a symbolic link (to /etc/passwd); an export holds plain files only"),
    # A FIFO would make the build wait for ever on reading it; a folder is no graph.
    (lambda m: (m / "model.onnx").unlink() or os.mkfifo(m / "model.onnx"),
     "model.onnx: not a plain file; an export holds plain files only"),
    (lambda m: (m / "browser.json").unlink() or os.mkfifo(m / "browser.json"),
     "browser.json: not a plain file; an export holds plain files only"),
    (lambda m: (m / "browser.json").write_text("[" * 100_000 + "]" * 100_000),
     "browser.json: not valid JSON (nested too deeply)"),
    (lambda m: _edit(m, lambda s: s["examples"][3]["values"].update({"mean radius": "big"})),
     "browser.json: field '(top level)': example 3: field 'mean radius' is a number, not text "
     "('big')"),
    (lambda m: _edit(m, lambda s: s["examples"][3]["values"].update({"mean radius": [1]})),
     "browser.json: field 'examples.3.values.mean radius': Input should be a valid string or a "
     "valid number"),
])
def test_a_browser_model_that_cannot_be_used_fails_the_build_in_one_line_and_keeps_the_site(
        folio, change, error):
    site = build(folio)
    before = sorted(p.relative_to(site) for p in site.rglob("*"))
    change(model_dir(folio, "breast-cancer-mlp"))
    result = cli(folio, "build")
    assert result.exit_code == 1
    assert result.output == (f"Error: portfolio/projects/breast-cancer-mlp/export/model/{error}; "
                             "the site was left as it was\n")
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == before


def _link_model_folder(folio: Path) -> None:
    model = model_dir(folio, "breast-cancer-mlp")
    shutil.rmtree(model)
    model.symlink_to(model_dir(folio, "diabetes-mlp"))


@pytest.mark.parametrize(("slug", "change", "error"), [
    ("sunspots-lstm", lambda m: _edit(m, lambda s: s["examples"][2].update(dates=["2000"] * 3)),
     "browser.json: field '(top level)': each example's 'dates' needs 9 dates"),
    ("sunspots-lstm", lambda m: _edit(m, lambda s: s["examples"][2].update(actual="many")),
     "browser.json: field '(top level)': an example's 'actual' is a number for this kind of "
     "model"),
    ("diabetes-mlp", lambda m: _edit(m, lambda s: s["fields"][0].update(categories=["a", "b"])),
     "browser.json: field '(top level)': field 'age': categories and one-hot slots go together"),
])
def test_a_browser_json_that_does_not_hold_together_fails_the_build(folio, slug, change, error):
    change(model_dir(folio, slug))
    result = cli(folio, "build")
    assert result.exit_code == 1
    assert result.output == (f"Error: portfolio/projects/{slug}/export/model/{error}; the site "
                             "was left as it was\n")


def test_an_export_folder_linked_elsewhere_is_refused(folio):
    """export/model as a link to another project's: the page would serve that model."""
    _link_model_folder(folio)
    result = cli(folio, "build")
    assert result.exit_code == 1
    assert result.output == (
        "Error: portfolio/projects/breast-cancer-mlp/export/model: a symbolic link (to "
        f"{model_dir(folio, 'diabetes-mlp')}); an export holds plain files only; the site was "
        "left as it was\n")


def test_a_symbolic_link_to_the_same_model_is_refused_by_a_build_that_had_nothing_to_do(folio):
    """An up-to-date build reuses what it built: replacing model.onnx by a link to a copy of
    the same bytes still changes what it reads."""
    site = build(folio)
    model = model_dir(folio, "digits-cnn") / "model.onnx"
    copy = folio / "elsewhere.onnx"
    shutil.copy(model, copy)
    model.unlink()
    model.symlink_to(copy)
    result = cli(folio, "build")
    assert result.exit_code == 1
    assert result.output == (f"Error: portfolio/projects/digits-cnn/export/model/model.onnx: a "
                             f"symbolic link (to {copy}); an export holds plain files only; the "
                             "site was left as it was\n")
    assert (site / "projects/digits-cnn/try/model.onnx").read_bytes() == copy.read_bytes()


def _edit(model: Path, change) -> None:
    spec = json.loads((model / "browser.json").read_text())
    change(spec)
    (model / "browser.json").write_text(json.dumps(spec))


def test_check_reports_a_page_model_that_does_not_give_the_models_outputs(folio):
    pytest.importorskip("onnxruntime")
    build(folio)
    assert cli(folio, "check").output.endswith("no findings\n")
    # Another project's graph in place of the page's, and a changed expected output.
    site = folio / "site"
    shutil.copy(site / "projects/breast-cancer-mlp/try/model.onnx",
                site / "projects/sunspots-lstm/try/model.onnx")
    _edit(model_dir(folio, "diabetes-mlp"),
          lambda s: s["examples"][4].update(expected=[s["examples"][4]["expected"][0] + 0.5]))
    result = cli(folio, "check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    diabetes = [line for line in lines if line.startswith("site/projects/diabetes-mlp/")]
    assert diabetes == [
        "site/projects/diabetes-mlp/try/model.onnx: its outputs on the 20 examples of browser.json "
        f"differ from the model's by up to {diabetes[0].split('up to ')[1].split(' ')[0]} times "
        "the tolerance (0.0001), the page would show predictions the model does not make"]
    assert float(diabetes[0].split("up to ")[1].split(" ")[0]) > 10
    sunspots = [line for line in lines if line.startswith("site/projects/sunspots-lstm/")]
    assert len(sunspots) == 1 and sunspots[0].startswith(
        "site/projects/sunspots-lstm/try/model.onnx: onnxruntime cannot run it (")
    assert sunspots[0].endswith("), the page's 'Try the model' would fail")
    assert lines[-1] == "Error: 2 finding(s) (model-parity)"
    # A run since the last build: the export's graph differs from the site's copy, and is
    # checked too.
    shutil.copy(model_dir(folio, "breast-cancer-mlp") / "model.onnx",
                model_dir(folio, "digits-cnn") / "model.onnx")
    digits = [line for line in cli(folio, "check").output.splitlines()
              if "digits-cnn" in line]
    assert len(digits) == 1 and digits[0].startswith(
        "portfolio/projects/digits-cnn/export/model/model.onnx: onnxruntime cannot run it (")
    # The site's copy replaced by a folder: check says so rather than read the export's.
    shutil.rmtree(site / "projects/sunspots-lstm/try")
    (site / "projects/sunspots-lstm/try/model.onnx").mkdir(parents=True)
    sunspots = [line for line in cli(folio, "check").output.splitlines()
                if line.startswith("site/projects/sunspots-lstm/")]
    assert sunspots == ["site/projects/sunspots-lstm/try/model.onnx: not a plain file (the site "
                        "holds a copy of the export's model.onnx), the page's 'Try the model' "
                        "would fail; run 'portfolio build' again"]
