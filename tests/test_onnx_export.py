"""The network for the browser: `pf.export_onnx` writes model.onnx where onnxruntime gives
Keras' outputs, and says in one line why not where it cannot (and leaves no file)."""

from __future__ import annotations

import numpy as np
import pytest

from site_builder import notebook as pf

keras = pytest.importorskip("keras")
pytest.importorskip("tf2onnx")
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="Keras exports ONNX through TensorFlow")


def test_an_mlp_and_an_lstm_export_with_the_same_outputs(tmp_path):
    rng = np.random.default_rng(0)
    mlp = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(3, activation="softmax")])
    assert pf.export_onnx(mlp, rng.random((20, 5), dtype="float32"), tmp_path) is None
    assert (tmp_path / "model.onnx").stat().st_size > 500
    lstm = keras.Sequential([keras.Input((6, 1)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    assert pf.export_onnx(lstm, rng.random((20, 6, 1), dtype="float32"), tmp_path) is None


def test_a_network_with_augmentation_layers_is_refused_in_one_line(tmp_path):
    cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.RandomTranslation(0.1, 0.1),
                            keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                            keras.layers.Dense(2, activation="softmax")])
    why = pf.export_onnx(cnn, np.zeros((4, 8, 8, 1), "float32"), tmp_path)
    assert why is not None and "\n" not in why and why.split(":")[0] in {
        "InvalidGraph", "Fail", "RuntimeError", "ValueError"}
    assert not (tmp_path / "model.onnx").exists()
