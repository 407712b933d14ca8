"""'Try the model' on the shipped examples' pages, in Debian's Chromium: nothing of it loads
before the click; then the page's model (ONNX Runtime Web, single-threaded WebAssembly from
the site's assets) gives the project model's outputs on every example of browser.json, the
form, the test images, the drawing pad and the series' values work, and the project's strings
stay text. Screenshots at desktop and phone sizes go to test-artifacts/."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from site_builder.browser import encode

from .browsing import CHROMIUM, DESKTOP, PHONE, ModelPage, chromium, served, worst
from .conftest import REPO, cli

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.xdist_group("kernel"),
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}"),
]
ARTIFACTS = REPO / "test-artifacts"
SLUGS = ("breast-cancer-mlp", "diabetes-mlp", "digits-cnn", "sunspots-lstm")
HOSTILE = ['<img src=x onerror="window.__xss = 1">benign',
           "malignant</li><script>window.__xss = 2</script>"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The shipped examples' site, with the breast-cancer classes renamed to markup."""
    root = tmp_path_factory.mktemp("try") / "folio"
    shutil.copytree(REPO / "portfolio", root / "portfolio",
                    ignore=shutil.ignore_patterns(".portfolio", "artifacts", "prepared"))
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    spec_path = root / "portfolio/projects/breast-cancer-mlp/export/model/browser.json"
    spec = json.loads(spec_path.read_text())
    renamed = dict(zip(spec["classes"], HOSTILE, strict=True))
    spec["classes"] = HOSTILE
    for example in spec["examples"]:
        example["actual"] = renamed[example["actual"]]
    spec_path.write_text(json.dumps(spec))
    # A field named as a property of every JavaScript object: its edits still reach the model.
    spec_path = root / "portfolio/projects/diabetes-mlp/export/model/browser.json"
    spec_path.write_text(spec_path.read_text().replace('"tc"', '"__proto__"'))
    result = cli(root, "build")
    assert result.exit_code == 0, result.output
    return root / "site"


@pytest.fixture(scope="module")
def server(site):
    with served(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def spec_of(site: Path, slug: str) -> dict:
    return json.loads((site / "projects" / slug / "try/browser.json").read_text())


def onnx_outputs(site: Path, slug: str, examples: list[dict]) -> np.ndarray:
    import onnxruntime

    spec = spec_of(site, slug)
    rows = np.array([encode(spec, e) for e in examples], "float32")
    if spec["kind"] == "image-classification":
        rows = rows.reshape(len(rows), spec["height"], spec["width"], spec["channels"])
    session = onnxruntime.InferenceSession(str(site / "projects" / slug / "try/model.onnx"),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: rows})[0]


@pytest.mark.parametrize("slug", SLUGS)
def test_nothing_loads_before_the_click_and_the_button_says_how_much_will(site, server,
                                                                            browser, slug):
    page = ModelPage(browser, f"{server}projects/{slug}/")
    try:
        assert page.widget_requests() == []
        sizes = json.loads((REPO / "site_builder/vendor/onnxruntime-web/sizes.json").read_text())
        graph = (site / "projects" / slug / "try/model.onnx").stat().st_size
        raw = sum(v[0] for v in sizes.values()) + graph
        packed = sum(v[1] for v in sizes.values()) + graph
        assert page.page.locator(".pf-try-open").inner_text() == \
            f"Load the model ({raw / 2**20:.1f} MB, {packed / 2**20:.1f} MB compressed)"
        assert page.page.locator("#try-the-model").inner_text().startswith("Try the model")
        assert page.errors == []
    finally:
        page.close()


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_page_model_gives_the_project_models_outputs_on_every_example(site, server, browser,
                                                                          slug, viewport):
    page = ModelPage(browser, f"{server}projects/{slug}/",
                     DESKTOP if viewport == "desktop" else PHONE)
    try:
        page.open_model()
        results = page.parity()
        spec = spec_of(site, slug)
        assert len(results) == len(spec["examples"]) == (
            21 if spec["kind"] == "time-series-forecasting" else 20)
        assert worst(results) <= spec["tolerance"]
        loaded = page.widget_requests()
        assert any(u.endswith("/assets/onnxruntime-web/ort-wasm-simd-threaded.wasm")
                   for u in loaded)
        assert any(u.endswith(f"/projects/{slug}/try/model.onnx") for u in loaded)
        assert page.page.locator(".pf-try-open").count() == 0  # the button gives way to it
        assert page.output().startswith(("Prediction: ", "Predicted ", "Forecast of the "))
        assert page.errors == []
        page.page.locator("#try-the-model").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.page.screenshot(path=str(ARTIFACTS / f"try-{slug}-{viewport}.png"))
        width = page.page.evaluate("document.documentElement.scrollWidth")
        assert width <= (DESKTOP if viewport == "desktop" else PHONE)["width"]
    finally:
        page.close()


def test_an_edited_row_is_predicted_as_the_graph_predicts_it_and_a_blank_is_imputed(site, server,
                                                                                  browser):
    page = ModelPage(browser, f"{server}projects/diabetes-mlp/")
    try:
        page.open_model()
        spec = spec_of(site, "diabetes-mlp")
        first = spec["examples"][0]
        assert page.output() == (f"Predicted progression: {first['expected'][0]:.4g} "
                                 f"(actual: {first['actual']:.4g})")
        form = page.page.locator(".pf-try-form")
        form.get_by_label("bmi", exact=True).fill("40")
        form.get_by_label("glu", exact=True).fill("")  # missing: the imputer's median
        edited = {**first["values"], "bmi": 40, "glu": None}
        expected = float(onnx_outputs(site, "diabetes-mlp", [{"values": edited}])[0][0])
        page.page.wait_for_function(
            "!document.querySelector('.pf-try-out').innerText.includes('actual')")
        assert page.output() == f"Predicted progression: {float(f'{expected:.4g}'):g}"
        proto = form.get_by_label("__proto__", exact=True)
        proto.fill("250")
        edited["__proto__"] = 250
        expected = float(onnx_outputs(site, "diabetes-mlp", [{"values": edited}])[0][0])
        page.page.wait_for_function(
            "document.querySelector('.pf-try-out').innerText === "
            f"'Predicted progression: {float(f'{expected:.4g}'):g}'")
        page.page.locator(".pf-try-choose select").select_option("2")
        third = spec["examples"][2]
        assert page.output() == (f"Predicted progression: {third['expected'][0]:.4g} "
                                 f"(actual: {third['actual']:.4g})")
        assert page.errors == []
    finally:
        page.close()


def test_the_project_strings_stay_text_in_the_form_and_the_probabilities(site, server, browser):
    page = ModelPage(browser, f"{server}projects/breast-cancer-mlp/")
    dialogs = []
    page.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.open_model()
        labels = page.page.locator(".pf-try-probs .pf-try-label").all_inner_texts()
        assert sorted(labels) == sorted(HOSTILE)
        spec = spec_of(site, "breast-cancer-mlp")
        options = page.page.locator(".pf-try-choose option").all_inner_texts()
        assert options[0] == f"Test row 1 (actual: {spec['examples'][0]['actual']})"
        assert page.page.evaluate("window.__xss") is None
        assert page.page.locator(".pf-try script, .pf-try img").count() == 0
        assert dialogs == [] and page.errors == []
    finally:
        page.close()


def test_a_digit_drawn_on_the_pad_is_predicted(site, server, browser):
    page = ModelPage(browser, f"{server}projects/digits-cnn/")
    try:
        page.open_model()
        spec = spec_of(site, "digits-cnn")
        first = spec["examples"][0]
        best = int(np.argmax(first["expected"]))
        assert page.output().startswith(f"Prediction: {spec['classes'][best]} (actual: "
                                        f"{first['actual']})")
        page.page.locator(".pf-try-image").nth(4).click()
        fifth = spec["examples"][4]
        assert page.output().startswith(
            f"Prediction: {spec['classes'][int(np.argmax(fifth['expected']))]} (actual: "
            f"{fifth['actual']})")
        pad = page.page.locator(".pf-try-pad")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        mouse = page.page.mouse
        mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
        mouse.down()
        mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 20, steps=10)
        mouse.up()
        page.page.wait_for_function(
            "!document.querySelector('.pf-try-out').innerText.includes('actual')")
        assert re.fullmatch(r"Prediction: \S+", page.output().splitlines()[0])
        assert page.page.locator(".pf-try-image[aria-pressed='true']").count() == 0
        page.page.get_by_role("button", name="Clear the pad").click()
        assert page.output() == "Draw on the pad, or pick a test image."
        assert page.errors == []
    finally:
        page.close()


def test_a_forecast_follows_the_values_before_it(site, server, browser):
    page = ModelPage(browser, f"{server}projects/sunspots-lstm/")
    try:
        page.open_model()
        spec = spec_of(site, "sunspots-lstm")
        last = spec["examples"][-1]
        assert page.output().startswith(f"Forecast of the sunspot number for "
                                        f"{last['target_date']}: {last['expected'][0]:.4g}")
        inputs = page.page.locator(".pf-try-series input")
        assert inputs.count() == spec["history"]
        inputs.nth(spec["history"] - 1).fill("150")
        values = [*last["values"][:-1], 150]
        expected = float(onnx_outputs(site, "sunspots-lstm", [{"values": values}])[0][0])
        page.page.wait_for_function(
            f"document.querySelector('.pf-try-out').innerText.includes('{expected:.4g}')")
        assert page.page.locator(".pf-try-chart circle").count() == 1
        assert page.errors == []
    finally:
        page.close()


def test_values_the_model_cannot_take_are_said_and_not_predicted(site, server, browser):
    """A number beyond 32-bit floats, a series value left empty or below what its transform
    takes (the square root of the sunspot numbers): a one-line note, no 'NaN' or dash."""
    page = ModelPage(browser, f"{server}projects/diabetes-mlp/")
    try:
        page.open_model()
        bmi = page.page.locator(".pf-try-form").get_by_label("bmi", exact=True)
        bmi.fill("1e39")
        assert page.output() == "Not predicted. bmi: enter a number of at most 3.4e38 in size."
        bmi.fill("30")
        assert page.predicted().startswith("Predicted progression: ")
        assert page.errors == []
    finally:
        page.close()
    page = ModelPage(browser, f"{server}projects/sunspots-lstm/")
    try:
        page.open_model()
        spec = spec_of(site, "sunspots-lstm")
        assert spec["domain"] == "non-negative"
        label = spec["examples"][-1]["dates"][-1]
        last = page.page.locator(".pf-try-series input").nth(spec["history"] - 1)
        last.fill("")
        assert page.output() == f"Not predicted. {label}: empty."
        last.fill("-5")
        assert page.output() == f"Not predicted. {label}: the model takes values of 0 or more."
        last.fill("40")
        assert page.predicted().startswith("Forecast of the sunspot number for ")
        assert page.errors == []
    finally:
        page.close()
