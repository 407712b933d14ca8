"""Helpers the project notebooks import: project settings, quiet libraries, recorded results.

Results are recorded as notebook outputs with their own MIME type, so they travel inside
the executed notebook and `portfolio run` reads them back from there into metrics.json.
Nothing here imports TensorFlow or Keras at import time.
"""

from __future__ import annotations

import logging
import math
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRIC_MIME = "application/vnd.portfolio.metric+json"
BASELINE_MIME = "application/vnd.portfolio.baseline+json"
PARAMS_MIME = "application/vnd.portfolio.params+json"
ENV_MIME = "application/vnd.portfolio.env+json"
FINDING_MIME = "application/vnd.portfolio.finding+json"
# `portfolio run` names a file here for each notebook, and shows its last line while the
# notebook runs; outside a run, progress goes nowhere.
PROGRESS_ENV = "PORTFOLIO_PROGRESS"
# How many processes a notebook trains in side by side (`in_parallel`): `portfolio run` sets it
# from the cores it gives the project; outside a run, from the machine's (`processes_for`).
PROCESSES_ENV = "PORTFOLIO_PROCESSES"


@dataclass(frozen=True)
class ProjectContext:
    dir: Path
    config: Any  # site_builder.config.ProjectConfig
    seed: int  # the run's seed: the notebook's parameter, else project.yml's

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def prepared_dir(self) -> Path:
        path = self.dir / "data" / "prepared"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def artifacts_dir(self) -> Path:
        path = self.dir / "artifacts"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def model_dir(self) -> Path:
        path = self.artifacts_dir / "model"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def data_path(self) -> Path:
        """The user's own data (file or folder) named in project.yml."""
        return self.dir / self.config.dataset.path

    @property
    def reference(self) -> dict | None:
        """The registry's reference score of this project's metric on its built-in data (model,
        value, protocol, source), or None for the user's own data."""
        from .registry import reference

        dataset = self.config.dataset
        return reference(dataset.name, dataset.source, self.config.metric.name)

    @property
    def best_published(self) -> dict | None:
        """The registry's best published result on this built-in data, where it has one."""
        from .registry import entry

        if self.config.dataset.source != "builtin":
            return None
        best = (entry(self.config.dataset.name) or {}).get("best")
        return best if best and best.get("metric", self.config.metric.name) == \
            self.config.metric.name else None


def _find_project_dir(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "project.yml").is_file():
            return candidate
    raise FileNotFoundError(f"no project.yml in {start} or above")


def quiet() -> None:
    """Silence library log lines and progress noise that would clutter a rendered notebook.

    Warnings about the method (a model that did not converge, a class too small for its
    folds, an ill-defined metric) stay visible: they are the learner's to read.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    for name in ("tensorflow", "absl", "h5py", "matplotlib", "jax", "torch", "tf2onnx", "onnx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*retracing.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    warnings.filterwarnings("ignore", category=UserWarning, module="scikeras")
    try:
        import sklearn

        # An estimator shows as text: its HTML view carries inline script (onclick) that a
        # published notebook file need not hold, and the site shows as text anyway.
        sklearn.set_config(display="text")
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        pass


def setup(seed: int | None = None, *, keras: bool = False) -> ProjectContext:
    """Everything a step needs before its method: load project.yml, quiet the libraries, seed
    Python and NumPy (and Keras and its backend with `keras=True`, in the steps that train),
    set plot defaults. `seed` None is project.yml's seed; the context carries the one used."""
    from .config import load_project

    quiet()
    project_dir = _find_project_dir(Path.cwd().resolve())
    config = load_project(project_dir)
    seed = config.seed if seed is None else seed
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    try:
        import matplotlib.pyplot as plt

        plt.rcParams.update(
            {"figure.figsize": (7, 4), "figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3}
        )
    except ImportError:  # pragma: no cover
        pass
    if keras:
        seed_keras(seed)
    return ProjectContext(project_dir, config, seed)


def seed_keras(seed: int) -> None:
    """Seed Keras and its backend (imports Keras: call it only in notebooks that train)."""
    quiet()
    import keras

    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    keras.utils.set_random_seed(seed)
    keras.config.disable_interactive_logging()
    backend = keras.backend.backend()
    device = device_name(backend)
    _display(
        {
            ENV_MIME: {"backend": backend, "device": device, "keras": keras.__version__},
            "text/plain": f"Keras {keras.__version__}, backend {backend}, device {device}",
        }
    )


def device_name(backend: str) -> str:
    """'CPU', or the name of the first GPU the Keras backend sees."""
    if backend == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)
        tf.autograph.set_verbosity(0)
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU: {details.get('device_name', gpus[0].name)}"
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu":
            return f"GPU: {device.device_kind}"
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)}"
    return "CPU"


def _display(data: dict) -> None:
    from IPython.display import display

    display(data, raw=True)


def _number(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"a recorded value must be finite, got {value!r}")
    return number


@dataclass(frozen=True)
class Interval:
    """A confidence interval of a score (`bootstrap`)."""

    low: float
    high: float
    level: float
    n: int
    method: str

    def as_record(self) -> dict[str, Any]:
        return {"low": _number(self.low), "high": _number(self.high), "level": self.level,
                "n": self.n, "method": self.method}

    def __str__(self) -> str:
        return f"{self.level:.0%} interval {self.low:.4g} to {self.high:.4g}"


def bootstrap(
    metric,
    y_true,
    y_pred,
    *,
    n: int = 1000,
    level: float = 0.95,
    block: int = 1,
    seed: int = 0,
) -> Interval:
    """The percentile bootstrap interval of `metric(y_true, y_pred)` over the test rows.

    The rows are drawn with replacement `n` times. For a forecast, whose errors are
    correlated in time, pass `block` > 1: the moving-block bootstrap then draws runs of
    `block` consecutive rows, keeping the correlation inside each run. A resample on which
    the metric is undefined (one class only, for ROC AUC) is drawn again.
    """
    import numpy as np

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rows = len(y_true)
    block = max(1, min(int(block), rows))
    rng = np.random.default_rng(seed)
    values: list[float] = []
    tries = 0
    while len(values) < n and tries < 10 * n:
        tries += 1
        starts = rng.integers(0, rows - block + 1, size=-(-rows // block))
        index = (starts[:, None] + np.arange(block)).ravel()[:rows]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = float(metric(y_true[index], y_pred[index]))
        except ValueError:
            continue
        if math.isfinite(value):
            values.append(value)
    if not values:
        raise ValueError("the metric is undefined on every resample of these rows")
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    method = "bootstrap" if block == 1 else f"moving-block bootstrap (blocks of {block})"
    return Interval(float(low), float(high), level, len(values), method)


def record(
    name: str,
    value: float,
    *,
    split: str,
    model: str | None = None,
    folds: list[float] | None = None,
    interval: Interval | None = None,
) -> None:
    """Record a metric: `split` is 'test', 'cv' (with the per-fold scores) or 'validation';
    a test score carries its `interval` (`bootstrap`)."""
    payload: dict[str, Any] = {"name": name, "value": _number(value), "split": split}
    label = f"{name} ({split}"
    if model:
        payload["model"] = model
        label += f", {model}"
    label += f"): {payload['value']:.4g}"
    if interval is not None:
        payload["interval"] = interval.as_record()
        label += f", {interval}"
    if folds is not None:
        scores = [_number(f) for f in folds]
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        payload["spread"] = {"std": std, "min": min(scores), "max": max(scores), "n": len(scores)}
        label += f" ± {std:.2g} over {len(scores)} folds"
    _display({METRIC_MIME: payload, "text/plain": label})


def record_baseline(name: str, value: float, *, strategy: str, split: str = "test") -> None:
    """Record the naive baseline score (majority class, mean, persistence)."""
    payload = {"name": name, "value": _number(value), "strategy": strategy, "split": split}
    _display({BASELINE_MIME: payload, "text/plain": f"baseline {name} ({strategy}): {value:.4g}"})


def markdown(template: str, **values: Any) -> str:
    """`template` (the notebook's own Markdown) with `values` filled in as plain text: a value
    from the data (a column name, a class label) can never become markup."""
    from .site.sanitize import md_text

    shown = {key: md_text(_plain(value)) for key, value in values.items()}
    return template.format(**shown)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def say(template: str, **values: Any) -> None:
    """Show Markdown written from this project's data and results (see `markdown`)."""
    _display({"text/markdown": markdown(template, **values),
              "text/plain": template.format(**{k: _plain(v) for k, v in values.items()})})


def finding(template: str, **values: Any) -> None:
    """Show and record a conclusion drawn from the results; the project page lists them at
    its top. The record keeps plain text (no Markdown): the site escapes it as any text."""
    bare = template.replace("**", "").replace("`", "")
    text = bare.format(**{k: _plain(v) for k, v in values.items()})
    _display({FINDING_MIME: {"text": " ".join(text.split())},
              "text/markdown": markdown(template, **values), "text/plain": text})


def record_params(name: str, params: dict[str, Any]) -> None:
    """Record a set of settings, such as the best hyperparameters of a search."""
    clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
    text = ", ".join(f"{k}={v}" for k, v in clean.items())
    _display({PARAMS_MIME: {"name": name, "params": clean}, "text/plain": f"{name}: {text}"})


def export_onnx(model, sample, directory: Path, *, tolerance: float = 1e-4) -> str | None:
    """Write `model.onnx` (the network for a browser or any ONNX runtime) into `directory` and
    check that onnxruntime's outputs on `sample` match Keras' within `tolerance`.

    Returns None when it did, else why not in one line (the model keeps its Keras file and
    the page goes without the in-browser model). Keras exports through tf2onnx under the
    TensorFlow backend; the model must have been called once, which `sample` does.
    """
    import numpy as np

    path = Path(directory) / "model.onnx"
    try:
        expected = np.asarray(model.predict(sample, verbose=0))
        model(np.asarray(sample[:1], "float32"))  # Keras exports a model it has seen called
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.export(str(path), format="onnx", verbose=False)
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: np.asarray(sample, "float32")})[0]
    except Exception as exc:  # noqa: BLE001 - any failure means: no browser model
        path.unlink(missing_ok=True)
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    worst = float(np.max(np.abs(got - expected)))
    if not worst <= tolerance:
        path.unlink(missing_ok=True)
        return f"onnxruntime's outputs differ from Keras' by {worst:.2g} (more than {tolerance})"
    return None


def export_browser_model(project: ProjectContext, examples, *, actual=None, dates=None) -> None:
    """The saved model as one ONNX graph from raw input to prediction, for "Try the model" on
    the project page, with up to 20 test examples (`examples`: raw test rows, test images, or
    the series' values), checked against the model's own outputs; says what it wrote, or why
    the page goes without it (site_builder/browser.py)."""
    from .browser import export_browser_model as export

    print(export(project.model_dir, project.config.problem_type, examples, actual=actual,
                 dates=dates))


def progress(text: str) -> None:
    """Say where a long cell is (model, fold, candidate, epoch) to `portfolio run`'s display.

    It writes nothing into the notebook: where it is matters while it runs, not in the record.
    """
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(" ".join(str(text).split()) + "\n")


_fits: dict[str, int] = {}


def _count_fit(label: str, start: bool = False) -> int:
    """The number of this fit of `label` (`start`: begin a new count). In a run the count is
    kept in a file next to the progress file, so that fits in other processes
    (`in_parallel`, scikit-learn's `n_jobs`) count together; each appends a line and counts
    the lines up to its own."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        _fits[label] = 0 if start else _fits.get(label, 0) + 1
        return _fits[label]
    import hashlib

    key = hashlib.sha256(label.encode("utf-8")).hexdigest()[:16].encode()
    try:
        # One unbuffered write in append mode: whole, and after every line written before it.
        descriptor = os.open(path + ".fits", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (b"-" if start else b"") + key + b"\n")
            end = os.lseek(descriptor, 0, os.SEEK_CUR)
        finally:
            os.close(descriptor)
        with open(path + ".fits", "rb") as file:
            lines = file.read(end).splitlines()
    except OSError:
        return 0
    count = 0
    for line in lines:
        count = 0 if line == b"-" + key else count + (line == key)
    return count


def fit_progress(label: str, fits: int | None = None):
    """A Keras callback that reports `label: fit k[/fits], epoch e/E` through `progress`
    (`label: epoch e/E` for a single fit, `fits=1`).

    Fits are counted per label across the copies scikit-learn makes of the estimator (a
    search or cross-validation clones it, callbacks included) and across the processes that
    train side by side, so it counts folds and candidates: start a new count with a new label.
    """
    import keras

    _count_fit(label, start=True)

    class FitProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.number = _count_fit(label) if fits != 1 else 1

        def on_epoch_end(self, epoch, logs=None):
            fit = "" if fits == 1 else f"fit {self.number}{f'/{fits}' if fits else ''}, "
            progress(f"{label}: {fit}epoch {epoch + 1}/{self.params['epochs']}")

    return FitProgress()


_started: set[int] = set()


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


def processes_for(cores: int) -> int:
    """How many fits to run side by side on `cores` cores: one per two. A Keras fit on its own
    keeps about 1.2 cores busy (its backend's threads); on two cores, two fits side by side
    each took about 40 % longer, and a full run of the shipped digits-cnn 1.02-1.09 times as
    long as with one (`benchmarks/parallel_folds.py`)."""
    return max(1, cores // 2)


def processes_from(value: str) -> int:
    """$PORTFOLIO_PROCESSES as a number, or ValueError naming it."""
    if not (value.isascii() and value.isdigit() and int(value) >= 1):
        raise ValueError(f"{PROCESSES_ENV}: expected a whole number of at least 1, got {value!r}")
    return int(value)


def processes() -> int:
    """How many processes train side by side (`in_parallel`, scikit-learn's `n_jobs`):
    $PORTFOLIO_PROCESSES (at most one per core), which `portfolio run` sets from the cores it
    gives this project (1 in a fast run, whose fits are too short to pay for starting
    processes), else one per two cores this process may use (`processes_for`).

    Where that is more than one, the first call starts them, and each imports what the notebook
    imported of Keras and its own models.py, so that the first folds do not wait for it.
    """
    value = os.environ.get(PROCESSES_ENV, "")
    # More processes than cores only slow each fit down.
    count = min(processes_from(value), cores()) if value else processes_for(cores())
    if count > 1 and count not in _started:
        import sys

        from joblib import Parallel, delayed

        modules = [name for name in ("keras", "models") if name in sys.modules]
        Parallel(n_jobs=count)(delayed(_start_process)(modules) for _ in range(count))
        _started.add(count)
    return count


def _in_process() -> None:
    """In one of `in_parallel`'s processes: quiet libraries, and the process ends with the
    kernel that started it, however the kernel ends (killed with its run, too), instead of
    waiting out joblib's idle timeout of five minutes."""
    from .site.workers import die_with_parent

    quiet()
    die_with_parent(os.getppid())


def _start_process(modules: list[str]) -> None:
    import importlib

    _in_process()
    try:
        from joblib.externals.loky import process_executor

        # loky restarts a process whose memory grew by 300 MB after its first task, taking it
        # for a leak: Keras' compiled networks grow more than that, and each restart would
        # import Keras again.
        process_executor._MAX_MEMORY_LEAK_SIZE = max(process_executor._MAX_MEMORY_LEAK_SIZE,
                                                     8 * 2**30)
    except (ImportError, AttributeError):  # pragma: no cover - another joblib
        pass
    for name in modules:
        importlib.import_module(name)


def _quietly(function, *arguments):
    _in_process()
    return function(*arguments)


def in_parallel(function, tasks, workers: int | None = None):
    """`function(*task)` for each task, `workers` (default `processes()`) at a time, each in a
    process of its own: a generator of the results, in the order of the tasks.

    Training a small network is mostly Python's and the backend's fixed costs, so folds side by
    side pay where there are cores to spare (see `processes_for`). The processes are joblib's
    (loky): they start once, import their libraries once, and stay for the next call while
    the kernel lives. The function and its arguments travel to them pickled (cloudpickle): give them the
    data as arguments. A task's results do not depend on the process it ran in, or on how many
    ran side by side: each fit seeds its own network.

    Leaving the loop early (a pruned trial: a `for` loop that breaks closes the generator)
    starts no further task; those already running finish first, and their results are
    dropped. With one worker, the tasks run here, one after the other.
    """
    tasks = list(tasks)
    workers = processes() if workers is None else workers
    if workers <= 1:
        for task in tasks:
            yield function(*task)
        return
    from joblib import Parallel, delayed

    stop = False

    def feed():
        for task in tasks:
            if stop:
                return
            yield delayed(_quietly)(function, *task)

    # Always `workers` processes, whatever the number of tasks: joblib would otherwise shrink
    # and grow its pool, and a new process has not imported the notebook's modules. Not
    # joblib's own early exit either: it kills the processes.
    results = Parallel(n_jobs=workers, return_as="generator", pre_dispatch="n_jobs")(feed())
    try:
        for result in results:  # noqa: UP028 (`yield from` would close `results` early)
            yield result
    finally:
        stop = True
        for _ in results:
            pass


def forget() -> None:
    """Forget what the last notebook started, for the next one on the same kernel (a fast
    run's shared kernel, `site_builder.kernel_state`): its fit counts, and the processes
    `in_parallel` trained in, which imported its modules (models.py) with its environment."""
    _fits.clear()
    _started.clear()
    import sys

    executors = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(executors, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)
