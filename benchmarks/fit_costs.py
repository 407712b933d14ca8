"""Where the time of a run goes: fixed costs per notebook and per fit, against compute.

Measured on this machine, each in a fresh interpreter so that nothing is warm by accident:

- per notebook: starting a Jupyter kernel, and importing Keras (TensorFlow) in it;
- per fit, for the networks the templates train (the image template's CNN on four fifths of
  the 1,437 training digits, a cross-validation fold; the tabular template's MLP on four
  fifths of the 455 training rows of the breast-cancer data): the first fit (building and
  compiling the network), a later fit of the same shape (the compiled network reused, fresh
  weights), and the same number of training steps as pure compute (one long epoch over the
  repeated data, no validation, no callbacks). A later fit minus the compute is the fixed
  cost of a fit: building a fresh network for its weights, an epoch's iterator and callbacks,
  the validation pass, predicting the fold.

    python benchmarks/fit_costs.py [--repeats 3] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from docs_section import write_section  # noqa: E402

NOTEBOOKS = REPO / "template" / "{{cookiecutter.project_slug}}" / "_notebooks"

KERNEL = """
import time
from jupyter_client.manager import start_new_kernel
t0 = time.perf_counter()
km, kc = start_new_kernel(kernel_name="python3")
started = time.perf_counter() - t0
t0 = time.perf_counter()
kc.execute_interactive("import keras", timeout=120)
imported = time.perf_counter() - t0
kc.stop_channels()
km.shutdown_kernel(now=True)
print(json.dumps({"kernel start": started, "import keras in it": imported}))
"""

# A fit as cross-validation makes it, three times: the first (compiles), then two more of the
# same shape; then the same optimiser steps as one epoch of pure compute.
FITS = """
import time
import numpy as np
t0 = time.perf_counter()
import keras
import_seconds = time.perf_counter() - t0
sys.path.insert(0, FOLDER)
import models
X, y = DATA()
n = len(X) * 4 // 5
fits = []
for seed in range(3):
    t0 = time.perf_counter()
    model = MAKE(seed).fit(X[:n], y[:n])
    model.predict_proba(X[n:])
    fits.append(time.perf_counter() - t0)
epochs = EPOCHS(model)
network = COMPUTE_NETWORK(model)
steps = int(np.ceil(n * FRACTION / BATCH)) * epochs
rows = np.resize(np.arange(int(n * FRACTION)), steps * BATCH)
network.fit(X[rows[:BATCH]], y[rows[:BATCH]], batch_size=BATCH, epochs=1, verbose=0)
t0 = time.perf_counter()
network.fit(X[rows], y[rows], batch_size=BATCH, epochs=1, verbose=0)
compute = time.perf_counter() - t0
print(json.dumps({"first fit": fits[0], "later fit": statistics.median(fits[1:]),
                  "compute": compute, "epochs": epochs, "import": import_seconds}))
"""

CNN = """
from sklearn.datasets import load_digits
FOLDER = {folder!r}
def DATA():
    d = load_digits()
    return (d.images / 16.0).astype("float32")[:1437, :, :, None], d.target[:1437]
def MAKE(seed):
    return models.CNNClassifier(blocks=2, convs_per_block=2, filters=32, epochs=20, seed=seed)
BATCH = 128
FRACTION = 0.9  # the rest is the fit's validation part
def EPOCHS(model):
    return len(model.history_["loss"])
def COMPUTE_NETWORK(model):
    net = models.build_trainer((8, 8, 1), 10, blocks=2, convs_per_block=2, filters=32)
    return net
"""

MLP = """
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
FOLDER = {folder!r}
def DATA():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X[:455]).astype("float32"), y[:455]
def MAKE(seed):
    return models.MLPClassifier(random_state=seed)
BATCH = 32
FRACTION = 0.85
def EPOCHS(model):
    return len(model.history_[0]["loss"])
def COMPUTE_NETWORK(model):
    net = models.build_mlp(30, 2)
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return net
"""


# The image template's fit fed from tf.data pipelines, as the tabular templates' are, instead
# of Keras' wrapping of NumPy arrays: the same training otherwise (another shuffling order).
OLD_FIT = """            X_fit, y_fit, validation_data=(X_val, y_val), epochs=self.epochs,
            batch_size=self.batch_size, callbacks=[decay, stop, *self.callbacks], verbose=0,"""
NEW_FIT = """            **_pipelines(X_fit, y_fit, X_val, y_val, self.batch_size, self.seed),
            epochs=self.epochs, callbacks=[decay, stop, *self.callbacks], verbose=0,"""
PIPELINES = """

def _pipelines(X_fit, y_fit, X_val, y_val, batch_size, seed):
    import tensorflow as tf

    rows = tf.data.Dataset.from_tensor_slices((X_fit, y_fit)).shuffle(len(X_fit), seed=seed)
    val = tf.data.Dataset.from_tensor_slices((X_val, y_val)).batch(len(X_val))
    return {"x": rows.batch(batch_size), "validation_data": val, "shuffle": False}
"""


def pipelined_models(into: Path) -> Path:
    text = (NOTEBOOKS / "image-classification" / "models.py").read_text()
    if OLD_FIT not in text:
        raise SystemExit("image-classification/models.py: its fit call has changed; update "
                         "OLD_FIT in this script")
    (into / "models.py").write_text(text.replace(OLD_FIT, NEW_FIT) + PIPELINES)
    return into


def run(code: str) -> dict:
    script = "import json, os, statistics, sys\n" + code
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", script], cwd=tmp, capture_output=True,
                              text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(results: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()
    kernel = median([run(KERNEL) for _ in range(args.repeats)])
    networks = {}
    with tempfile.TemporaryDirectory() as tmp:
        variants = (
            ("image CNN (8 x 8 digits, 1,149 images a fold)", CNN,
             NOTEBOOKS / "image-classification"),
            ("the same, fed from tf.data pipelines", CNN, pipelined_models(Path(tmp))),
            ("tabular MLP (breast cancer, 364 rows a fold)", MLP,
             NOTEBOOKS / "tabular-classification"))
        for repeat in range(args.repeats):  # the variants side by side in each repeat
            for name, setup, folder in variants:
                code = textwrap.dedent(setup).format(folder=str(folder)) + FITS
                networks.setdefault(name, []).append(run(code))
                print(repeat, name, networks[name][-1], flush=True)
    networks = {name: median(results) for name, results in networks.items()}
    rows = [
        "| per notebook | seconds |", "|---|---:|",
        f"| start a Jupyter kernel | {kernel['kernel start']:.1f} |",
        f"| import Keras (TensorFlow) in it | {kernel['import keras in it']:.1f} |",
        "",
        "| per fit | first fit | later fit | of which compute | fixed cost of a later fit | "
        "epochs |", "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in networks.items():
        rows.append(f"| {name} | {r['first fit']:.2f} s | {r['later fit']:.2f} s | "
                    f"{r['compute']:.2f} s | {r['later fit'] - r['compute']:.2f} s "
                    f"({(r['later fit'] - r['compute']) / r['later fit']:.0%}) | "
                    f"{r['epochs']:.0f} |")
    stamp = time.strftime("%Y-%m-%d %H:%M")
    section = "\n".join([
        "## Where the time of a run goes",
        "",
        f"`python benchmarks/fit_costs.py --repeats {args.repeats}` ({stamp}) on "
        f"{os.cpu_count()} cores, load average at the start {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f}; medians of {args.repeats} runs, each in a fresh interpreter. A fit "
        "is one cross-validation fold as the templates make it (early stopping on a "
        "validation part, then predicting the held-out fold); its compute is the same "
        "optimiser steps as one long epoch, without validation or callbacks.",
        "", *rows, "",
        "A full run of digits-cnn makes about 33 such CNN fits (steps 3 to 5: 5 folds of "
        "step 3's network, up to 3 candidates and 2 more seeds over 5 folds in step 4, the "
        "final networks in step 5): most of its time is these fits, and most of a CNN fit "
        "is not its arithmetic but what surrounds it each epoch (Keras' wrapping of NumPy "
        "arrays, the validation pass) and each fit (a network built for its fresh weights, "
        "the prediction). The MLP's fits, fed from tf.data pipelines, are nearly all compute. "
        "A full run imports Keras three times (steps 3, 4 and 5, each in its own kernel); a "
        "`--fast` run once, its training steps sharing a kernel.",
    ])
    print(section)
    if not args.no_write:
        write_section("fit-costs", section)


if __name__ == "__main__":
    main()
