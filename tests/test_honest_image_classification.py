"""Image classification tells the truth about the user's own images and learns nothing from the
test images: the split is made in step 1, before anything is fitted; every model is fitted on
rows it is never scored on; the baseline is the training majority scored on the test images;
the image size described is the images' own; a class too rare to stratify is refused."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.model_selection import train_test_split

from site_builder.datasets import MIN_CLASS_ROWS

from .conftest import REPO, cli, make_portfolio, tree

TEMPLATE = REPO / "template" / "{{cookiecutter.project_slug}}" / "_notebooks" / "image-classification"
COUNTS = {"circle": 14, "cross": 12, "square": 10}


def shapes_folder(path: Path, counts: dict[str, int] = COUNTS, size: int = 24) -> Path:
    """Grey PNGs of `size` pixels, one sub-folder per class; no two images alike."""
    rng = np.random.default_rng(7)
    for label, count in counts.items():
        (path / label).mkdir(parents=True)
        for i in range(count):
            image = Image.new("RGB", (size, size), "white")
            draw = ImageDraw.Draw(image)
            a, b = int(rng.integers(2, size // 4)), int(rng.integers(3 * size // 4, size - 2))
            if label == "circle":
                draw.ellipse((a, a, b, b), outline="black", width=2)
            elif label == "square":
                draw.rectangle((a, a, b, b), outline="black", width=2)
            else:
                draw.line((a, a, b, b), fill="black", width=2)
                draw.line((a, b, b, a), fill="black", width=2)
            draw.point((i % size, 0), fill=(100, 100, 100))  # a mark of its own
            image.save(path / label / f"{i:02d}.png")
    return path


# Started in every kernel of the run (IPython's startup folder): each fit and each prediction of
# a scikit-learn pipeline or of the project's CNNClassifier writes the rows it saw (hashes of
# their pixels) and which model saw them to the file named in RECORD_ROWS.
RECORDER = """
import builtins, functools, hashlib, json, os, sys

import numpy as np
import sklearn.pipeline


def _rows(X):
    X = np.ascontiguousarray(np.asarray(X, dtype="float32"))
    return [hashlib.sha1(row.tobytes()).hexdigest()[:16] for row in X]


def _recorded(method, event):
    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        with open(os.environ["RECORD_ROWS"], "a") as file:
            file.write(json.dumps({"event": event, "model": f"{os.getpid()}-{id(self)}",
                                   "kind": type(self).__name__, "rows": _rows(X)}) + "\\n")
        return method(self, X, *args, **kwargs)
    return wrapper


sklearn.pipeline.Pipeline.fit = _recorded(sklearn.pipeline.Pipeline.fit, "fit")
sklearn.pipeline.Pipeline.predict = _recorded(sklearn.pipeline.Pipeline.predict, "predict")

_import = builtins.__import__


def _patch_models(*args, **kwargs):
    module = _import(*args, **kwargs)
    models = sys.modules.get("models")
    cls = getattr(models, "CNNClassifier", None)
    if cls is not None and not getattr(cls, "_recorded", False):
        cls._recorded = True
        cls.fit = _recorded(cls.fit, "fit")
        cls.predict_proba = _recorded(cls.predict_proba, "predict")
    return module


builtins.__import__ = _patch_models
"""


@pytest.fixture(scope="module")
def shapes_project(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """A folder of 24-pixel PNGs, fast-run by real kernels with every fit and prediction
    recorded."""
    base = tmp_path_factory.mktemp("honest-images")
    root = make_portfolio(base / "folio")
    folder = shapes_folder(base / "shapes")
    startup = base / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-record.py").write_text(RECORDER)
    log = base / "rows.jsonl"
    result = cli(root, "new", "Shapes", "--problem", "image-classification", "--data", str(folder),
                 "--no-input")
    assert result.exit_code == 0, result.output
    # What an earlier run (or another kind of model) left in artifacts/model is not exported.
    stale = root / "portfolio/projects/shapes/artifacts/model"
    stale.mkdir(parents=True)
    (stale / "classical.joblib").write_bytes(b"an earlier run's model")
    saved = {key: os.environ.get(key) for key in ("IPYTHONDIR", "RECORD_ROWS")}
    os.environ.update(IPYTHONDIR=str(base / "ipython"), RECORD_ROWS=str(log))
    try:
        result = cli(root, "run", "--fast")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return root / "portfolio/projects/shapes", folder, events


def _hashes(X: np.ndarray) -> set[str]:
    X = np.ascontiguousarray(np.asarray(X, dtype="float32"))
    return {hashlib.sha1(row.tobytes()).hexdigest()[:16] for row in X}


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_no_model_is_fitted_on_a_test_image_or_scored_on_its_own_training_rows(shapes_project):
    project, _, events = shapes_project
    with np.load(project / "data/prepared/test.npz") as test:
        test_rows = _hashes(test["X"])
    with np.load(project / "data/prepared/train.npz") as train:
        train_rows = _hashes(train["X"])
    assert len(test_rows) == 8 and len(train_rows) == 28 and not test_rows & train_rows
    fits = [e for e in events if e["event"] == "fit"]
    # Step 3: four pipelines and the CNN on 2 folds; step 4: candidates and seeds; step 5.
    assert sum(e["kind"] == "Pipeline" for e in fits) >= 8
    assert sum(e["kind"] == "CNNClassifier" for e in fits) >= 7
    fitted: dict[str, set[str]] = {}
    for event in events:
        rows = set(event["rows"])
        if event["event"] == "fit":
            assert not rows & test_rows, f"{event['kind']} was fitted on test images"
            assert rows <= train_rows
            fitted[event["model"]] = rows
        else:
            assert not rows & fitted[event["model"]], \
                f"{event['kind']} was scored on images it was fitted on"
    # The test images are predicted, in step 5 only, by models fitted on all training images.
    on_test = [e for e in events if e["event"] == "predict" and set(e["rows"]) & test_rows]
    assert on_test and all(fitted[e["model"]] == train_rows for e in on_test)


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_the_split_comes_first_and_the_baseline_is_the_training_majority_on_the_test_images(
        shapes_project):
    project, _, _ = shapes_project
    labels = np.repeat(np.arange(len(COUNTS)), list(COUNTS.values()))  # folders in name order
    y_train, y_test = train_test_split(labels, test_size=0.2, stratify=labels, random_state=42)
    expected = float((y_test == np.bincount(y_train).argmax()).mean())
    with np.load(project / "data/prepared/split.npz") as split:
        np.testing.assert_array_equal(np.sort(split["y_test"]), np.sort(y_test))
        assert split["X_train"].max() == 255  # step 1 saves the images as read: nothing fitted
    metrics = json.loads((project / "export/metrics.json").read_text())
    assert metrics["baseline"]["value"] == pytest.approx(expected)
    assert metrics["baseline"]["strategy"] == "majority class (circle)"
    assert metrics["baseline"]["step"] == "01_define_problem"


def _markdown_outputs(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(output["data"]["text/markdown"]) for cell in cells
                     for output in cell.get("outputs", []) if "text/markdown" in
                     output.get("data", {}))


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_the_images_are_described_as_they_are(shapes_project):
    project, _, _ = shapes_project
    said = _markdown_outputs(project / "export/notebooks/01_define_problem.ipynb")
    assert "36 image files (.png) of 24 × 24 pixels" in said
    assert "each 24 × 24 pixels with 1 channel (grey levels)" in said
    assert "8 × 8" not in said and "64 × 64" not in said
    assert "28 training images and 8 test images" in said
    spec = json.loads((project / "export/model/model.json").read_text())["input"]
    assert {key: spec[key] for key in ("height", "width", "channels", "divide_by", "resize")} == {
        "height": 24, "width": 24, "channels": 1, "divide_by": 255.0, "resize": None}
    assert json.loads((project / "export/model/classes.json").read_text()) == list(COUNTS)
    assert sorted(p.name for p in (project / "export/model").iterdir()) == [
        "README.md", "browser.json", "classes.json", "model.json", "model.keras", "model.onnx"]


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_findings_and_the_error_analysis_are_there(shapes_project):
    project, _, _ = shapes_project
    metrics = json.loads((project / "export/metrics.json").read_text())
    steps = [f["step"] for f in metrics["findings"]]
    assert steps.count("03_evaluate_algorithms") == 1
    assert steps.count("04_improve_results") == 2
    assert steps.count("05_present_results") >= 2
    texts = " ".join(f["text"] for f in metrics["findings"])
    assert "Spot-check:" in texts and "Tuning:" in texts and "Ensemble:" in texts
    assert "Test accuracy" in texts and "Errors:" in texts
    assert "interval" in metrics["primary"] and metrics["primary"]["interval"]["level"] == 0.95
    cells = json.loads((project / "export/notebooks/05_present_results.ipynb").read_text())["cells"]
    assert any(c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## Error analysis")
               for c in cells)


def test_a_class_folder_too_small_to_stratify_is_one_line_naming_it(tmp_path):
    root = make_portfolio(tmp_path / "folio")
    folder = shapes_folder(tmp_path / "shapes", {"circle": 12, "cross": 12, "square": 9}, size=16)
    before = tree(root)
    result = cli(root, "new", "Shapes", "--problem", "image-classification", "--data", str(folder),
                 "--no-input")
    assert (result.exit_code, result.output) == (
        1, f"Error: {folder / 'square'}: class 'square' has 9 images; each class needs at least "
           f"{MIN_CLASS_ROWS} to be stratified into the test split and the folds (add images, or "
           "merge the folder with another class or remove it)\n")
    assert tree(root) == before


CNN_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import models

rng = np.random.default_rng(0)
X = rng.random((60, 8, 8, 1), dtype="float32")
y = np.repeat(np.arange(3), 20)
settings = dict(filters=4, dense=8, shift=0.125, epochs=3, batch_size=16)
first = models.CNNClassifier(**settings, seed=3).fit(X, y)       # builds and compiles
other = models.CNNClassifier(**settings, seed=4).fit(X[::2], y[::2])  # the same network, trained
again = models.CNNClassifier(**settings, seed=3).fit(X, y)       # again: reused, from fresh weights
reused = len(models._trainers) == 1
models._trainers.clear()
fresh = models.CNNClassifier(**settings, seed=3).fit(X, y)       # a newly compiled one
exported = first.export_network()
print(json.dumps({
    "reused": reused,
    "same": all(np.array_equal(a, b) for a, b in zip(again.weights_, fresh.weights_)),
    "first": all(np.array_equal(a, b) for a, b in zip(first.weights_, fresh.weights_)),
    "own_weights": np.array_equal(first.predict_proba(X), fresh.predict_proba(X)),
    "exported": [type(layer).__name__ for layer in exported.layers][:2],
    "ensemble": models.average_network([first, other]).predict(X[:5], verbose=0).shape == (5, 3),
}))
"""


def test_the_cnn_trains_the_same_from_a_reused_compiled_network():
    """Steps 3 and 4 fit one compiled network per setting again and again: each fit starts from
    the weights, the optimiser state and the random state a new network would have."""
    done = subprocess.run([sys.executable, "-c", CNN_PROBE, str(TEMPLATE)], capture_output=True,
                          text=True, env={**os.environ, "KERAS_BACKEND": "tensorflow"}, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "reused": True, "same": True, "first": True, "own_weights": True,
        "exported": ["Conv2D", "Conv2D"], "ensemble": True,
    }
