"""The opt-in keras.datasets sets (MNIST, Fashion-MNIST, CIFAR-10): read from Keras' cache,
downloaded once by `portfolio new`, one line when that fails.

These tests never download. Each one points KERAS_HOME at a temporary folder and, where a
dataset should be there, writes a small fake of it in Keras' cache layout (the file names and
formats of keras/src/datasets/*.py, with a few hundred random images instead of 70,000); a
download that must fail is sent to a closed port on this machine.
"""

from __future__ import annotations

import gzip
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml

from site_builder import keras_data, registry
from site_builder.errors import PortfolioError

from .conftest import cli, make_portfolio, tree

CLOSED_PORT = "http://127.0.0.1:9/"


def fake_images(name: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images of the dataset's shape; labels cycle through the ten classes, with
    one extra '1' so that the majority class is well defined."""
    shape = (32, 32, 3) if name == "cifar10" else (28, 28)
    images = np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype=np.uint8)
    labels = (np.arange(count) % 10).astype(np.uint8)
    labels[-1] = 1
    return images, labels


def _idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as MNIST's authors publish it: magic number, dimensions, bytes; gzipped."""
    header = struct.pack(">I", 0x800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def _cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """A batch as CIFAR-10's python version holds it: a pickled dict with bytes keys, each
    image a row of 3072 values, channels first."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    path.write_bytes(pickle.dumps({b"data": rows, b"labels": labels.tolist()}))


def write_cache(home: Path, name: str, train: int = 200, test: int = 50) -> tuple:
    """A fake `name` in Keras' cache under `home`; returns ((x_train, y_train), (x_test, y_test))."""
    (x_train, y_train), (x_test, y_test) = fake_images(name, train, 0), fake_images(name, test, 1)
    datasets = home / "datasets"
    if name == "mnist":
        datasets.mkdir(parents=True)
        np.savez(datasets / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test,
                 y_test=y_test)
    elif name == "fashion_mnist":
        folder = datasets / "fashion-mnist"
        folder.mkdir(parents=True)
        for prefix, images, labels in (("train", x_train, y_train), ("t10k", x_test, y_test)):
            _idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
            _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    else:
        folder = datasets / "cifar-10-batches-py-target" / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for i, part in enumerate(np.array_split(np.arange(train), 5), start=1):
            _cifar_batch(folder / f"data_batch_{i}", x_train[part], y_train[part])
        _cifar_batch(folder / "test_batch", x_test, y_test)
    return (x_train, y_train), (x_test, y_test)


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def offline(monkeypatch):
    """keras.utils.get_file as it is, but every origin on a closed local port: the real
    failure of a download without a network, without touching the network (messages still
    name the real origin, the file a user would fetch by hand)."""
    import keras

    real = keras.utils.get_file

    def unreachable(fname, origin, **kwargs):
        return real(fname, CLOSED_PORT + origin.rpartition("/")[2], **kwargs)

    monkeypatch.setattr(keras.utils, "get_file", unreachable)


@pytest.mark.parametrize("name", sorted(keras_data.DATASETS))
def test_load_reads_each_layout_of_keras_cache_as_images_with_channels(keras_home, name):
    (x_train, y_train), (x_test, y_test) = write_cache(keras_home, name)
    (train_images, train_labels), (test_images, test_labels) = keras_data.load(name)
    channels = 3 if name == "cifar10" else 1
    assert train_images.shape == (200, *x_train.shape[1:3], channels)
    assert test_images.shape == (50, *x_test.shape[1:3], channels)
    assert train_images.dtype == np.uint8
    np.testing.assert_array_equal(train_images.reshape(x_train.shape), x_train)
    np.testing.assert_array_equal(test_images.reshape(x_test.shape), x_test)
    np.testing.assert_array_equal(train_labels, y_train)
    np.testing.assert_array_equal(test_labels, y_test)
    assert train_labels.dtype == np.int64 and train_labels.ndim == 1
    assert keras_data.missing(name) == []


def test_a_corrupt_cached_file_is_one_line(keras_home):
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(PortfolioError) as error:
        keras_data.load("mnist")
    message = str(error.value)
    assert message.startswith(f"{keras_home / 'datasets'}: MNIST handwritten digits in Keras' "
                              "cache is not readable (")
    assert message.endswith("); delete its files there and run again to download them anew")
    assert "\n" not in message


def test_new_with_cached_mnist_downloads_nothing(keras_home, tmp_path, monkeypatch):
    import keras

    def no_download(*args, **kwargs):
        raise AssertionError("downloaded although the cache holds the dataset")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    write_cache(keras_home, "mnist")
    root = make_portfolio(tmp_path / "folio")
    result = cli(root, "new", "Digits", "--problem", "image-classification", "--dataset", "mnist",
                 "--no-input")
    assert (result.exit_code, result.output) == (0, "created portfolio/projects/digits\n")
    config = yaml.safe_load((root / "portfolio/projects/digits/project.yml").read_text())
    card = registry.entry("mnist")["card"]
    assert config["dataset"] == {
        "name": "mnist", "source": "builtin", "image_size": 64,
        "description": card["description"], "url": card["source"], "licence": card["licence"],
        "citation": card["citation"]}


def test_new_offline_without_the_cache_is_one_line_and_creates_nothing(keras_home, tmp_path,
                                                                       offline):
    root = make_portfolio(tmp_path / "folio")
    before = tree(root)
    result = cli(root, "new", "Digits", "--problem", "image-classification", "--dataset", "mnist",
                 "--no-input")
    assert result.exit_code == 1
    announce, *_, error = result.output.splitlines()
    assert announce == (f"downloading mnist (11.5 MB) into {keras_home / 'datasets'}/ "
                        "(once; later runs read the cache)")
    origin = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    assert error == (f"Error: --dataset mnist: could not download {origin} (Connection refused); "
                     f"without a network, save {origin} as {keras_home / 'datasets' / 'mnist.npz'}")
    assert tree(root) == before
    assert not (keras_home / "datasets" / "mnist.npz").exists()


def test_cifar10_offline_says_where_to_unpack_the_archive(keras_home, offline):
    with pytest.raises(PortfolioError) as error:
        keras_data.ensure("cifar10")
    folder = keras_home / "datasets" / "cifar-10-batches-py-target"
    origin = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert str(error.value) == (
        f"--dataset cifar10: could not download {origin} (Connection refused); without a "
        f"network, unpack {origin} into {folder}/")


def test_the_announcement_counts_only_the_missing_files(keras_home, offline, capsys):
    write_cache(keras_home, "fashion_mnist")
    images = keras_home / "datasets" / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    images.unlink()
    with pytest.raises(PortfolioError, match="train-images-idx3-ubyte.gz"):
        keras_data.ensure("fashion_mnist")
    assert capsys.readouterr().out.splitlines()[0] == (
        f"downloading fashion_mnist (26.4 MB) into {keras_home / 'datasets'}/ "
        "(once; later runs read the cache)")


def test_home_folder_is_written_as_tilde(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keras_data.keras_home() == tmp_path / ".keras"
    assert keras_data._shown(tmp_path / ".keras" / "datasets") == "~/.keras/datasets"


def test_unknown_dataset_lists_the_choices(keras_home, tmp_path):
    root = make_portfolio(tmp_path / "folio")
    before = tree(root)
    result = cli(root, "new", "Things", "--problem", "image-classification", "--dataset",
                 "imagenet", "--no-input")
    assert (result.exit_code, result.output) == (
        1, "Error: --dataset: unknown dataset 'imagenet' for image-classification (built-in: "
           "digits, mnist, fashion_mnist, cifar10; or give your own with --data)\n")
    assert tree(root) == before
    assert not keras_home.exists()


def test_keras_datasets_are_for_images_only(keras_home, tmp_path):
    result = cli(make_portfolio(tmp_path / "folio"), "new", "Digits", "--dataset", "mnist",
                 "--no-input")
    assert (result.exit_code, result.output) == (
        1, "Error: --dataset: unknown dataset 'mnist' for tabular-classification (built-in: "
           "breast_cancer; or give your own with --data)\n")


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_fast_run_keeps_the_official_split_and_scores_the_baseline_on_it(keras_home, tmp_path):
    """Steps 1 and 2 on a fake MNIST of 200 training and 50 test images in Keras' cache,
    through a real `portfolio run --fast` (steps 3 to 5 run on what step 2 wrote); then step 2
    alone with a smaller `max_train_images`."""
    (_, y_train), (x_test, y_test) = write_cache(keras_home, "mnist")
    root = make_portfolio(tmp_path / "folio")
    assert cli(root, "new", "Digits", "--problem", "image-classification", "--dataset", "mnist",
               "--no-input").exit_code == 0
    result = cli(root, "run", "--fast")
    assert result.exit_code == 0, result.output
    project = root / "portfolio/projects/digits"
    prepared = project / "data/prepared"
    with np.load(prepared / "test.npz") as test:
        np.testing.assert_array_equal(test["y"], y_test)  # the official test images, in order
        np.testing.assert_allclose(test["X"][..., 0], x_test / 255, atol=1e-6)
    with np.load(prepared / "train.npz") as train:
        assert train["X"].shape == (200, 28, 28, 1) and train["X"].dtype == np.float32
        assert sorted(np.bincount(train["y"])) == sorted(np.bincount(y_train))
    assert json.loads((prepared / "classes.json").read_text()) == [str(d) for d in range(10)]
    assert json.loads((prepared / "scaling.json").read_text()) == {"divide_by": 255.0,
                                                                   "shape": [28, 28, 1]}
    baseline = json.loads((project / "export/metrics.json").read_text())["baseline"]
    # The training majority ('1', 21 of 200) scored on the test images: 6 of 50.
    assert baseline["value"] == pytest.approx(6 / 50)
    assert baseline["strategy"] == "majority class (1)"

    # Step 2 again with a subset: 100 training images, every class in its share; all test images.
    import papermill

    papermill.execute_notebook(str(project / "notebooks/02_prepare_data.ipynb"),
                               str(tmp_path / "step2.ipynb"), parameters={"max_train_images": 100},
                               cwd=str(project / "notebooks"), kernel_name="python3",
                               progress_bar=False)
    with np.load(prepared / "train.npz") as train, np.load(prepared / "test.npz") as test:
        assert len(train["y"]) == 100
        assert np.abs(np.bincount(train["y"]) - np.bincount(y_train) / 2).max() <= 1
        assert len(test["y"]) == 50
