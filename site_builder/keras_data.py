"""The standard image datasets of `keras.datasets`, opt-in for image classification:
`portfolio new ... --problem image-classification --dataset mnist|fashion_mnist|cifar10`.

A dataset is downloaded once, with keras.utils.get_file, into Keras' cache ($KERAS_HOME/datasets,
by default ~/.keras/datasets) under the names and folders keras.datasets' own loaders use, so
either finds what the other fetched. `portfolio new` downloads; the notebooks read the cache
here. Reading is done here rather than by keras' loaders, which re-download a file whose hash
differs from the published one (and load all of CIFAR-10 to answer whether it is there).
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import PortfolioError

GOOGLE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Remote:
    """One file of a dataset as keras.datasets fetches it (names, origins and hashes from
    keras/src/datasets/*.py); `size` in bytes is announced before the download."""

    fname: str
    origin: str
    size: int
    file_hash: str | None = None
    subdir: str = "datasets"
    extract: bool = False

    def path(self, home: Path) -> Path:
        """Where it lies in the cache: the file, or the folder an archive is unpacked into."""
        return home / self.subdir / self.fname

    def missing(self, home: Path) -> str:
        """What to do by hand, offline."""
        if self.extract:
            return f"unpack {self.origin} into {self.path(home)}/"
        return f"save {self.origin} as {self.path(home)}"


@dataclass(frozen=True)
class KerasDataset:
    title: str
    files: tuple[Remote, ...]
    classes: tuple[str, ...]
    # Step 2's default subset of training images: on two cores, step 3's spot-checks (an SVM
    # among them) and two CNNs stay within minutes; the official test images are all kept.
    max_train_images: int
    read: Callable[[Path], tuple[Split, Split]]


def _read_mnist(home: Path) -> tuple[Split, Split]:
    with np.load(home / "datasets" / "mnist.npz", allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def _read_fashion_mnist(home: Path) -> tuple[Split, Split]:
    folder = home / "datasets" / "fashion-mnist"
    splits = []
    for prefix in ("train", "t10k"):
        labels = _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 8)
        images = _idx(folder / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(len(labels), 28, 28)
        splits.append((images, labels))
    return splits[0], splits[1]


def _read_cifar10(home: Path) -> tuple[Split, Split]:
    # keras' reader of a batch file: a pickle, read with only numpy's classes allowed.
    from keras.src.datasets.cifar import load_batch

    folder = home / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    batches = [load_batch(str(folder / f"data_batch_{i}")) for i in range(1, 6)]
    x_test, y_test = load_batch(str(folder / "test_batch"))
    # Batches hold channels first; the notebooks keep images as height x width x channels.
    x_train = np.concatenate([b[0] for b in batches]).transpose(0, 2, 3, 1)
    y_train = np.concatenate([b[1] for b in batches])
    return (x_train, y_train), (x_test.transpose(0, 2, 3, 1), np.asarray(y_test))


DATASETS: dict[str, KerasDataset] = {
    "mnist": KerasDataset(
        "MNIST handwritten digits",
        (Remote("mnist.npz", GOOGLE + "mnist.npz", 11_490_434,
                "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),),
        tuple(str(d) for d in range(10)), 10_000, _read_mnist),
    "fashion_mnist": KerasDataset(
        "Fashion-MNIST",
        tuple(Remote(name, GOOGLE + name, size, subdir="datasets/fashion-mnist") for name, size in (
            ("train-labels-idx1-ubyte.gz", 29_515), ("train-images-idx3-ubyte.gz", 26_421_880),
            ("t10k-labels-idx1-ubyte.gz", 5_148), ("t10k-images-idx3-ubyte.gz", 4_422_102))),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot"), 10_000, _read_fashion_mnist),
    "cifar10": KerasDataset(
        "CIFAR-10",
        (Remote("cifar-10-batches-py-target", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                170_498_071, "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                extract=True),),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        5_000, _read_cifar10),
}


def keras_home() -> Path:
    """Keras' own folder, as keras reads it: $KERAS_HOME, else ~/.keras."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def _shown(path: Path) -> str:
    """A path with the home folder written as ~, as users know Keras' cache."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _dataset(name: str) -> KerasDataset:
    if name not in DATASETS:
        raise PortfolioError(f"{name!r}: not a keras.datasets dataset (choose from "
                             f"{', '.join(DATASETS)})")
    return DATASETS[name]


def missing(name: str) -> list[Remote]:
    home = keras_home()
    return [r for r in _dataset(name).files if not r.path(home).exists()]


def ensure(name: str) -> None:
    """Download what the cache lacks of a dataset, announced in one line; nothing when all is
    there. Offline, one line names the file and where to place it by hand."""
    wanted = missing(name)
    if not wanted:
        return
    home = keras_home()
    datasets = home / "datasets"
    megabytes = sum(r.size for r in wanted) / 1e6
    print(f"downloading {name} ({megabytes:.1f} MB) into {_shown(datasets)}/ "
          "(once; later runs read the cache)", flush=True)
    try:
        datasets.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PortfolioError(f"{datasets}: cannot create Keras' cache ({exc.strerror}); set "
                             "KERAS_HOME to a folder you can write") from None
    if not os.access(home, os.W_OK):
        # keras would quietly download into /tmp/.keras instead
        raise PortfolioError(f"{home}: not writable; set KERAS_HOME to a folder you can write")
    import keras

    for remote in wanted:
        try:
            keras.utils.get_file(remote.fname, remote.origin, file_hash=remote.file_hash,
                                 cache_dir=str(home), cache_subdir=remote.subdir,
                                 extract=remote.extract)
        except Exception as exc:  # keras raises a bare Exception for a failed fetch
            reason = re.sub(r"^\[Errno [-\d]+\] ", "", str(exc).rpartition(" -- ")[2].strip())
            raise PortfolioError(f"--dataset {name}: could not download {remote.origin} "
                                 f"({reason or type(exc).__name__}); without a network, "
                                 f"{remote.missing(home)}") from None


def load(name: str) -> tuple[Split, Split]:
    """The official (train, test) split as (images, labels), images as uint8
    height x width x channels, labels as integers: read from Keras' cache, downloaded first if
    it is not there."""
    dataset = _dataset(name)
    ensure(name)
    try:
        (x_train, y_train), (x_test, y_test) = dataset.read(keras_home())
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile,
            zlib.error) as exc:
        raise PortfolioError(f"{_shown(keras_home() / 'datasets')}: {dataset.title} in Keras' "
                             f"cache is not readable ({exc}); delete its files there and run "
                             "again to download them anew") from None
    channels = [x if x.ndim == 4 else x[..., np.newaxis] for x in (x_train, x_test)]
    labels = [np.asarray(y, np.int64).reshape(-1) for y in (y_train, y_test)]
    return (channels[0], labels[0]), (channels[1], labels[1])
