"""Keras backends: fast runs under JAX and PyTorch on the CPU, and the errors for a missing
backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import pytest

from .conftest import cli


def test_unknown_backend_is_a_one_line_error(portfolio_root):
    result = cli(portfolio_root, "run", "--backend", "theano")
    assert result.exit_code == 1
    assert result.output == ("Error: --backend: unknown backend 'theano' (choose from tensorflow, "
                             "jax, torch)\n")


def test_a_backend_that_is_not_installed_names_its_extra(portfolio_root, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    assert cli(portfolio_root, "new", "Breast cancer", "--no-input").exit_code == 0
    result = cli(portfolio_root, "run", "--backend", "torch")
    assert result.exit_code == 1
    assert result.output == ('Error: --backend torch: torch is not installed; install it with '
                             'pip install "dl-portfolio-kit[torch]"\n')
    assert not (portfolio_root / "portfolio/projects/breast-cancer/export").exists()


def test_kernels_share_the_gpu_unless_told_otherwise(monkeypatch):
    from site_builder.runner import RunOptions, _kernel_environment

    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "false")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    _kernel_environment(RunOptions(backend="jax"))
    assert os.environ["KERAS_BACKEND"] == "jax"
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "false"


def assert_page_model(model: Path) -> None:
    """Keras exports the page's ONNX graph from this backend too, and onnxruntime gives the
    model's outputs with it."""
    from site_builder.browser import parity

    spec = json.loads((model / "browser.json").read_text())
    assert "unavailable" not in spec, spec
    assert parity(spec, model / "model.onnx")[0] <= 1


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
@pytest.mark.skipif(find_spec("jax") is None,
                    reason='JAX is not installed: pip install -e ".[test,jax]"')
def test_fast_run_under_jax_on_the_cpu(portfolio_root):
    assert cli(portfolio_root, "new", "Breast cancer", "--no-input").exit_code == 0
    result = cli(portfolio_root, "run", "--fast", "--backend", "jax")
    assert result.exit_code == 0, result.output
    export = portfolio_root / "portfolio/projects/breast-cancer/export"
    manifest = json.loads((export / "manifest.json").read_text())
    assert (manifest["backend"], manifest["device"]) == ("jax", "CPU")
    assert {n["inputs"]["backend"] for n in manifest["notebooks"]} == {"jax"}
    assert list(manifest["versions"]) == ["python", "jax", "keras", "scikit-learn", "pandas",
                                          "numpy"]
    assert manifest["versions"]["jax"] == version("jax")
    metrics = json.loads((export / "metrics.json").read_text())
    # The majority class of the training rows, scored on the 114 test rows (72 benign).
    assert metrics["baseline"]["value"] == pytest.approx(72 / 114)
    assert 0.85 <= metrics["primary"]["value"] <= 1.0
    # Keras exports ONNX under JAX through jax2onnx, which the kit does not install (it brings
    # Flax, Optax and Orbax): the page goes without "Try the model", and says why.
    spec = json.loads((export / "model/browser.json").read_text())
    assert spec == {"format": 1, "unavailable": "Keras' ONNX export failed (ImportError: This "
                    "requires the jax2onnx module. You can install it via `pip install jax2onnx`)"}
    assert not (export / "model/model.onnx").exists()
    # The backend is part of the cache key: the same run on TensorFlow is not up to date.
    from site_builder.layout import Portfolio
    from site_builder.runner import RunOptions, plan_run

    project = Portfolio(portfolio_root).project("breast-cancer")
    assert plan_run(project, RunOptions(fast=True, backend="jax")).start == 5
    assert plan_run(project, RunOptions(fast=True)).reason == \
        "01_define_problem: backend changed"


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
@pytest.mark.skipif(find_spec("torch") is None,
                    reason='PyTorch is not installed: pip install -e ".[test,torch]"')
def test_fast_run_of_the_image_cnn_under_torch_on_the_cpu(portfolio_root):
    # The CNN trains several batches per call into the backend, which Keras' PyTorch backend
    # refuses: the template asks for one there.
    assert cli(portfolio_root, "new", "Digits", "--problem", "image-classification",
               "--no-input").exit_code == 0
    result = cli(portfolio_root, "run", "--fast", "--backend", "torch")
    assert result.exit_code == 0, result.output
    export = portfolio_root / "portfolio/projects/digits/export"
    manifest = json.loads((export / "manifest.json").read_text())
    assert (manifest["backend"], manifest["device"]) == ("torch", "CPU")
    assert manifest["versions"]["torch"] == version("torch")
    metrics = json.loads((export / "metrics.json").read_text())
    assert metrics["primary"]["name"] == "accuracy"
    assert metrics["baseline"]["value"] < 0.15
    assert 0.85 <= metrics["primary"]["value"] <= 1.0
    assert sorted(p.name for p in (export / "model").iterdir()) == [
        "README.md", "browser.json", "classes.json", "model.json", "model.keras", "model.onnx"]
    assert_page_model(export / "model")


CNN_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import keras
from models import build_trainer

model = build_trainer((8, 8, 1), 10, rotation=0.04, shift=0.125, zoom=0.1)
print(json.dumps({"backend": keras.backend.backend(), "jit": bool(model.jit_compile),
                  "layers": [type(layer).__name__ for layer in model.layers[:3]]}))
"""


@pytest.mark.skipif(find_spec("jax") is None,
                    reason='JAX is not installed: pip install -e ".[test,jax]"')
@pytest.mark.parametrize("backend, jit", [("jax", True), ("tensorflow", False)])
def test_the_image_cnn_with_augmentation_is_compiled_under_jax(backend, jit):
    # Keras' augmentation layers say they cannot be compiled (TensorFlow's image ops cannot);
    # under JAX that would run the whole network op by op.
    models = (Path(__file__).resolve().parent.parent / "template" / "{{cookiecutter.project_slug}}"
              / "_notebooks" / "image-classification")
    done = subprocess.run([sys.executable, "-c", CNN_PROBE, str(models)], capture_output=True,
                          text=True, env={**os.environ, "KERAS_BACKEND": backend}, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "backend": backend, "jit": jit,
        "layers": ["RandomRotation", "RandomTranslation", "RandomZoom"],
    }
