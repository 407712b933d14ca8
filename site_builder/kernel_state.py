"""What a notebook can see of the kernel it runs on: kept before the kernel's first notebook
and put back between two notebooks that share the kernel (`portfolio run --fast`).

Runs inside the kernel. Put back: the variables (those IPython's startup files defined as they
were), the input and output history, the execution count, IPython's event callbacks, the
working folder, the environment variables, the umask, `sys.path`, `sys.modules` as it was (a
library deleted or replaced there is put back), the recursion limit, the warnings filters, the
root logger's level, `builtins` (names added or replaced), NumPy's printing options and error
handling, pandas' options, scikit-learn's configuration, matplotlib's settings, backend and
figures, Keras' session and global settings (float type, dtype policy, image data format,
epsilon, epoch and step caps, logging), TensorFlow's eager switch, and the project's own
modules (its `models.py`, its packages), which the next notebook imports afresh. Installed
libraries stay imported: not importing them again is what sharing a kernel is for. The random
generators are left as they are: every notebook seeds them in its setup cell.
"""

from __future__ import annotations

import builtins
import functools
import gc
import logging
import os
import sys
import warnings
from pathlib import Path

_fresh: dict | None = None

# Keras' global settings: each read by keras.config.NAME() and set by keras.config.set_NAME.
_KERAS_SETTINGS = ("floatx", "dtype_policy", "image_data_format", "epsilon", "max_epochs",
                   "max_steps_per_epoch")
_KERAS_SWITCHES = {
    "is_interactive_logging_enabled": ("enable_interactive_logging",
                                       "disable_interactive_logging"),
    "is_traceback_filtering_enabled": ("enable_traceback_filtering",
                                       "disable_traceback_filtering"),
}


def _libraries() -> dict:
    """The global settings of the libraries imported so far that a notebook may change."""
    found: dict = {}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        found["numpy"] = numpy.get_printoptions()
        found["numpy errors"] = numpy.geterr()
    sklearn = sys.modules.get("sklearn")
    if sklearn is not None:
        found["sklearn"] = sklearn.get_config()
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        try:
            found["pandas"] = _pandas_options(pandas)
        except Exception:  # noqa: BLE001 - another pandas: its defaults are put back instead
            pass
    keras = sys.modules.get("keras")
    config = getattr(keras, "config", None)
    if config is not None:
        settings = {name: getattr(config, name)() for name in _KERAS_SETTINGS
                    if hasattr(config, name)}
        settings.update({name: getattr(config, name)() for name in _KERAS_SWITCHES
                         if hasattr(config, name)})
        found["keras"] = settings
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and hasattr(tensorflow, "config"):
        found["tensorflow"] = tensorflow.config.functions_run_eagerly()
    return found


def _pandas_options(pandas) -> dict:
    from pandas._config import config

    values = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in config._registered_options:
            if key not in config._deprecated_options:
                values[key] = pandas.get_option(key)
    return values


def _put_back_libraries(saved: dict) -> None:
    """Put the libraries' settings back as `_libraries` saw them; a library imported since
    then gets its defaults where it has them."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and "numpy" in saved:
        numpy.set_printoptions(**saved["numpy"])
        numpy.seterr(**saved["numpy errors"])
    sklearn = sys.modules.get("sklearn")
    if sklearn is not None and "sklearn" in saved:
        sklearn.set_config(**saved["sklearn"])
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if "pandas" in saved:
                for key, value in saved["pandas"].items():
                    if pandas.get_option(key) != value:
                        pandas.set_option(key, value)
            else:
                pandas.reset_option("all")
    keras = sys.modules.get("keras")
    config = getattr(keras, "config", None)
    if config is not None and "keras" in saved:
        settings = saved["keras"]
        for name in _KERAS_SETTINGS:
            if name in settings and getattr(config, name)() != settings[name]:
                getattr(config, f"set_{name}")(settings[name])
        for name, (enable, disable) in _KERAS_SWITCHES.items():
            if name in settings and getattr(config, name)() != settings[name]:
                getattr(config, enable if settings[name] else disable)()
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and "tensorflow" in saved:
        tensorflow.config.run_functions_eagerly(saved["tensorflow"])


def _from_notebook(function, project: Path) -> bool:
    """Whether `function` was defined in a notebook's cells or in the project's own modules."""
    while isinstance(function, functools.partial):
        function = function.func
    name = getattr(function, "__module__", None)
    if name == "__main__":
        return True
    file = getattr(sys.modules.get(name or ""), "__file__", None)
    return isinstance(file, str) and Path(file).resolve().is_relative_to(project)


def keep() -> None:
    """Remember the kernel as it is now, before its first notebook runs."""
    global _fresh
    from IPython import get_ipython

    shell = get_ipython()
    matplotlib = sys.modules.get("matplotlib")
    umask = os.umask(0o022)
    os.umask(umask)
    _fresh = {
        # What the startup files defined (this module's own names aside).
        "namespace": {name: value for name, value in shell.user_ns.items()
                      if name not in shell.user_ns_hidden and not name.startswith("_portfolio")},
        "environ": dict(os.environ),
        "path": list(sys.path),
        "filters": list(warnings.filters),
        "builtins": dict(vars(builtins)),
        "modules": dict(sys.modules),
        "recursion": sys.getrecursionlimit(),
        "umask": umask,
        "log_level": logging.getLogger().level,
        "backend": matplotlib.get_backend() if matplotlib is not None else None,
        "events": {event: list(callbacks) for event, callbacks in shell.events.callbacks.items()},
        "rc": dict(matplotlib.rcParams) if matplotlib is not None else None,
        "libraries": _libraries(),
    }


def restore(cwd: str, environment: dict[str, str], project_dir: str) -> None:
    """Make the kernel, done with one notebook, what `keep` saw, in `cwd`, with `environment`
    added to its environment variables."""
    fresh = _fresh or {}
    # First what the rest needs: the builtins (without calling any, a notebook may have
    # replaced them) and the modules imported before the first notebook.
    saved_builtins = fresh.get("builtins")
    if saved_builtins:
        current = builtins.__dict__
        for name in [name for name in current if name not in saved_builtins]:
            del current[name]
        current.update(saved_builtins)
    if "modules" in fresh:
        sys.modules.update(fresh["modules"])
    from IPython import get_ipython

    shell = get_ipython()
    # The notebook's names go, the startup files' are put back; never all at once (as
    # IPython's reset does): a startup file may have hooked the imports with its own names.
    saved = fresh.get("namespace", {})
    namespace, hidden = shell.user_ns, shell.user_ns_hidden
    for name in [name for name in namespace if name not in hidden and name not in saved]:
        del namespace[name]
    namespace.update(saved)
    shell.displayhook.flush()  # Out and _, __, ___
    shell.history_manager.reset(new_session=True)  # In
    shell.execution_count = 1
    os.chdir(cwd)
    if "environ" in fresh:
        os.environ.clear()
        os.environ.update(fresh["environ"])
        sys.path[:] = fresh["path"]
        warnings.resetwarnings()
        warnings.filters[:] = fresh["filters"]
        getattr(warnings, "_filters_mutated", lambda: None)()
        sys.setrecursionlimit(fresh["recursion"])
        os.umask(fresh["umask"])
        logging.getLogger().setLevel(fresh["log_level"])
    os.environ.update(environment)
    project = Path(project_dir).resolve()
    # IPython's event callbacks that the notebook or the project's modules registered go; those
    # of the libraries (matplotlib's inline figures, registered when pyplot is first imported)
    # stay.
    for event, callbacks in shell.events.callbacks.items():
        before = fresh.get("events", {}).get(event, [])
        callbacks[:] = [callback for callback in callbacks
                        if any(callback is kept for kept in before)
                        or not _from_notebook(callback, project)]
    # Thousands of modules are loaded (TensorFlow's alone): their folders are resolved once.
    folders: dict[str, bool] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            places = [os.path.dirname(file)]
        else:  # a namespace package has its folders only
            try:
                places = [place for place in getattr(module, "__path__", None) or []
                          if isinstance(place, str)]
            except Exception:  # noqa: BLE001 - a module's own __path__ may be anything
                places = []
        for folder in places:
            if folder not in folders:
                folders[folder] = Path(folder).resolve().is_relative_to(project)
        if any(folders[folder] for folder in places):
            del sys.modules[name]
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    if "matplotlib" in sys.modules:
        matplotlib = sys.modules["matplotlib"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fresh.get("rc") is not None:
                matplotlib.rcParams.update(fresh["rc"])
            else:
                matplotlib.rcdefaults()
        pyplot = sys.modules.get("matplotlib.pyplot")
        backend = fresh.get("backend") or os.environ.get("MPLBACKEND")
        if pyplot is not None and backend and matplotlib.get_backend() != backend:
            pyplot.switch_backend(backend)  # figures shown inline again after matplotlib.use
    _put_back_libraries(fresh.get("libraries", {}))
    if "keras" in sys.modules:
        clear_session = sys.modules["keras"].backend.clear_session
        try:
            clear_session(free_memory=False)  # garbage is collected once, below
        except TypeError:  # a Keras without the argument
            clear_session()
    if "site_builder.notebook" in sys.modules:
        sys.modules["site_builder.notebook"].forget()
    gc.collect()
