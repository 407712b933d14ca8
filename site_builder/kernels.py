"""Kernels started ahead of their notebooks.

`portfolio run` executes a project's notebooks one after another, each in a fresh kernel. A
notebook that trains spends seconds importing its libraries (TensorFlow alone takes about five)
before its first cell does any work. So while one notebook runs, the kernels of the next ones
are started and told to import the installed libraries their notebooks import, one kernel
after the other: when a notebook's turn comes, its imports are done and its cells find them in
`sys.modules`. Nothing else in the kernel
changes: the import runs silently, outside the history and the execution count, with warnings
filters restored afterwards, and a module that fails to import is left for the notebook to
import (and report) itself.

In a fast run (`--fast`), the notebooks that follow one another share a kernel where they
import alike (steps 1-2 one, the training steps 3-5 another): importing Keras and its backend
is most of such a run, and it is paid once, not once per step. Between two notebooks what a
notebook can see of the kernel is put back as it was before the first one
(`site_builder.kernel_state`); installed libraries stay imported. A full run gives every
notebook a kernel of its own, as a reader who reruns one in Jupyter would.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import importlib.util
import os
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

from .cache import _source

# The kernel writes what libraries print straight to its file descriptors (TensorFlow's C++
# logs) to the kernel log, not into the notebook.
# Its input history stays in memory, as nbclient's own kernels do: not in the user's IPython
# history database, which kernels run in parallel would share.
KERNEL_ARGUMENTS = ["--IPKernelApp.capture_fd_output=False", "--HistoryManager.hist_file=:memory:"]
ENGINE = "portfolio-started-kernel"

_IMPORT = """\
def _portfolio_preload(names):
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                pass


_portfolio_preload({names!r})
del _portfolio_preload
"""

# Before a kernel's first notebook: what a notebook can see of it is kept, to be put back for
# the next notebook where the kernel is shared (`site_builder.kernel_state`).
_KEEP = """\
try:
    from site_builder import kernel_state as _portfolio_state
except ImportError:
    pass
else:
    _portfolio_state.keep()
    del _portfolio_state
"""

_RESET = """\
from site_builder import kernel_state as _portfolio_state

_portfolio_state.restore({cwd!r}, {environment!r}, {project!r})
"""


def imported_modules(notebook: dict, project_dir: Path) -> list[str]:
    """The installed modules a notebook's code cells import at their top level, in order,
    with those that the project's own modules it imports (its `models.py`) import at theirs,
    in their place: TensorFlow, imported by `models.py` only, is loaded ahead too.

    Modules that are not installed, or that live in the project, are left out: importing the
    project's own code ahead of its notebook would run it out of order.
    """
    project_dir = project_dir.resolve()
    sources = [_source(cell) for cell in notebook.get("cells", [])
               if cell.get("cell_type") == "code"]
    names = _top_level_imports(sources, project_dir / "notebooks", set())
    installed = []
    for name in dict.fromkeys(names):
        try:
            spec = importlib.util.find_spec(name.partition(".")[0])
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        places = list(spec.submodule_search_locations or [])
        if spec.origin and spec.origin not in ("built-in", "frozen"):
            places.append(spec.origin)
        if not any(Path(place).resolve().is_relative_to(project_dir) for place in places):
            installed.append(name)
    return installed


def _top_level_imports(sources: list[str], folder: Path, seen: set[str]) -> list[str]:
    """The modules `sources` import at their top level; a module of `folder` (the notebooks'
    own, such as models.py) is followed into, once, and given with what it imports."""
    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module]
            else:
                continue
            for name in found:
                top = name.partition(".")[0]
                local = folder / f"{top}.py"
                if top not in seen and local.is_file():
                    seen.add(top)
                    try:
                        text = local.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError):
                        text = ""
                    names.extend(_top_level_imports([text], folder, seen))
                names.append(name)
    return names


def _kernel_manager_class(log: BinaryIO):
    """A kernel manager whose kernel writes its own stdout and stderr to a log file."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_start_kernel(self, **kw):
            kw.setdefault("stderr", log)
            kw.setdefault("stdout", log)
            return await super()._async_start_kernel(**kw)

        start_kernel = _async_start_kernel

    return LoggedKernelManager


class StartedKernel:
    """A Python kernel started in `cwd` that imports `modules` as soon as it is up, with
    `env` added to this process's environment.

    With `after`, the imports wait until that kernel's are done: on a machine with few cores,
    the kernel needed next gets them first, not a share with the kernels needed later.
    """

    def __init__(self, cwd: Path, log_path: Path, modules: list[str],
                 after: StartedKernel | None = None, env: dict[str, str] | None = None):
        from jupyter_core.utils import run_sync

        log_path.parent.mkdir(parents=True, exist_ok=True)
        # Over TCP, a port jupyter_client found free can be taken (by another kernel starting,
        # or a connection of a Dask worker) before the kernel binds it, and the kernel dies.
        # Unix sockets in a folder of their own cannot collide.
        self._sockets = tempfile.mkdtemp(prefix="portfolio-kernel-") if os.name == "posix" else None
        if self._sockets and len(self._sockets) > 80:  # a socket's path: 104-108 characters
            shutil.rmtree(self._sockets)
            self._sockets = None
        transport = {"transport": "ipc", "ip": os.path.join(self._sockets, "kernel")} \
            if self._sockets else {}
        with log_path.open("ab") as log:
            self.manager = _kernel_manager_class(log)(kernel_name="python3", **transport)
            # Returns once the process is launched, not once the kernel is up.
            run_sync(self.manager.start_kernel)(cwd=str(cwd), extra_arguments=KERNEL_ARGUMENTS,
                                                env={**os.environ, **(env or {})})
        self._imported = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._import, args=(modules, after), name="portfolio-kernel-imports",
            daemon=True,
        )
        self._thread.start()

    def take(self, timeout: float):
        """The kernel manager, once the imports are done (or the kernel is gone)."""
        self._thread.join(timeout)
        self._stopping.set()
        self._thread.join()
        return self.manager

    def reset(self, project_dir: Path, cwd: Path, env: dict[str, str], modules: list[str],
              timeout: float) -> str | None:
        """Make the kernel, done with one notebook, ready for the next one (see the module's
        docstring), which imports `modules` (those not imported yet are, as ahead); `env` is
        added to its environment. None once done; else why not (the kernel is gone, did not
        answer in `timeout` seconds, or the reset failed)."""
        code = _RESET.format(cwd=str(cwd), environment=dict(env), project=str(project_dir)) \
            + _IMPORT.format(names=modules)
        reply = self._execute(code, threading.Event(), timeout)
        if reply is None:
            return ("the kernel stopped" if not self._running()
                    else f"the kernel did not answer in {timeout:.0f} s")
        if reply.get("status") != "ok":
            evalue = (reply.get("evalue") or "").strip().splitlines()
            return f"{reply.get('ename', 'error')}: {evalue[0] if evalue else ''}".strip(": ")
        return None

    def stop(self) -> None:
        """Stop the kernel now (it has nothing to finish)."""
        self._stopping.set()
        self._thread.join()
        if self.manager.has_kernel:
            # On a loop of its own: after Ctrl-C the shared loop still holds the interrupted
            # notebook's task, which would wake up to a dead kernel and complain.
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.manager.shutdown_kernel(now=True))
            finally:
                loop.close()
        if self._sockets:
            shutil.rmtree(self._sockets, ignore_errors=True)

    def _import(self, modules: list[str], after: StartedKernel | None) -> None:
        """In a thread of its own (its client's sockets are used by this thread only)."""
        from jupyter_core.utils import ensure_event_loop

        try:
            while after is not None and not after._imported.wait(0.1):
                if self._stopping.is_set():
                    return
            code = (_IMPORT.format(names=modules) if modules else "") + _KEEP
            self._execute(code, self._stopping, None)
        finally:
            self._imported.set()
            # The blocking client ran its calls on an event loop jupyter_core made for this
            # thread; the thread ends here, and so does its loop.
            ensure_event_loop().close()

    def _execute(self, code: str, stopping: threading.Event, timeout: float | None) -> dict | None:
        """Run `code` silently (outside the history and the execution count) and wait for its
        reply's content; None where the kernel died, `stopping` was set or `timeout` passed
        first."""
        from jupyter_client.blocking import BlockingKernelClient

        client = BlockingKernelClient()
        client.load_connection_info(self.manager.get_connection_info())
        client.start_channels(iopub=False, stdin=False, hb=False, control=False)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # zmq holds the request until the kernel listens.
            request = client.execute(code, silent=True, store_history=False, allow_stdin=False)
            while not stopping.is_set() and self._running():
                if deadline is not None and time.monotonic() > deadline:
                    return None
                try:
                    reply = client.get_shell_msg(timeout=0.1)
                except queue.Empty:
                    continue
                if reply.get("parent_header", {}).get("msg_id") == request:
                    return reply.get("content", {})
            return None
        finally:
            client.stop_channels()

    def _running(self) -> bool:
        process = getattr(self.manager.provisioner, "process", None)
        return process is None or process.poll() is None


@functools.cache
def register_engine() -> str:
    """A papermill engine that runs a notebook on a started kernel (`km=`) and then stops it
    (leaves it running with `keep_kernel=True`)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class StartedKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, km=None, keep_kernel=False,
                                     **kwargs):
            client = PapermillNotebookClient(
                nb_man,
                km=km,
                kernel_name=kernel_name,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                # Every output has arrived when the last cell is done: a kernel that has
                # imported TensorFlow takes seconds to shut down politely, so it is stopped.
                shutdown_kernel="immediate",
            )
            # nbclient leaves a kernel it was handed running; this one is done with, unless
            # the next notebook runs on it too.
            try:
                return client.execute(cleanup_kc=not keep_kernel)
            finally:
                if keep_kernel and client.kc is not None:
                    client.kc.stop_channels()
                    client.kc = None

    papermill_engines.register(ENGINE, StartedKernelEngine)
    return ENGINE
