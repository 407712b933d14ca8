"""What a notebook can see of the kernel it runs on: kept before the kernel's first notebook
and put back between two notebooks that share the kernel (`portfolio run --fast`).

Runs inside the kernel. Put back: the variables (those IPython's startup files defined as they
were), the input and output history, the execution count, the working folder, the environment
variables, `sys.path`, the warnings filters, the names added to `builtins`, matplotlib's
settings and figures, Keras' session, and the project's own modules (its `models.py`), which
the next notebook imports afresh. Installed libraries stay imported: not importing them again
is what sharing a kernel is for. The random generators are left as they are: every notebook
seeds them in its setup cell.
"""

from __future__ import annotations

import builtins
import gc
import os
import sys
import warnings
from pathlib import Path

_fresh: dict | None = None


def keep() -> None:
    """Remember the kernel as it is now, before its first notebook runs."""
    global _fresh
    from IPython import get_ipython

    shell = get_ipython()
    matplotlib = sys.modules.get("matplotlib")
    _fresh = {
        # What the startup files defined (this module's own names aside).
        "namespace": {name: value for name, value in shell.user_ns.items()
                      if name not in shell.user_ns_hidden and not name.startswith("_portfolio")},
        "environ": dict(os.environ),
        "path": list(sys.path),
        "filters": list(warnings.filters),
        "builtins": set(vars(builtins)),
        "rc": dict(matplotlib.rcParams) if matplotlib is not None else None,
    }


def restore(cwd: str, environment: dict[str, str], project_dir: str) -> None:
    """Make the kernel, done with one notebook, what `keep` saw, in `cwd`, with `environment`
    added to its environment variables."""
    from IPython import get_ipython

    shell = get_ipython()
    fresh = _fresh or {}
    # The notebook's names go, the startup files' are put back; never all at once (as
    # IPython's reset does): a startup file may have hooked the imports with its own names.
    saved = fresh.get("namespace", {})
    namespace, hidden = shell.user_ns, shell.user_ns_hidden
    for name in [name for name in namespace
                 if name not in hidden and name not in saved and not name.startswith("__")]:
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
        for name in set(vars(builtins)) - fresh["builtins"]:
            delattr(builtins, name)
    os.environ.update(environment)
    project = Path(project_dir).resolve()
    # Thousands of modules are loaded (TensorFlow's alone): their folders are resolved once.
    folders: dict[str, bool] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue
        folder = os.path.dirname(file)
        if folder not in folders:
            folders[folder] = Path(folder).resolve().is_relative_to(project)
        if folders[folder]:
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
    if "keras" in sys.modules:
        clear_session = sys.modules["keras"].backend.clear_session
        try:
            clear_session(free_memory=False)  # garbage is collected once, below
        except TypeError:  # a Keras without the argument
            clear_session()
    if "site_builder.notebook" in sys.modules:
        sys.modules["site_builder.notebook"].forget()
    gc.collect()
