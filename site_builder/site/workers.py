"""The parts of a build that take long, spread over forked worker processes."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def fork_map(function: Callable, items: list, workers: int, chunksize: int = 1) -> list | None:
    """function over items in `workers` forked processes, results in order. The workers start
    with everything this process holds, so function reads its inputs from module state set
    before the call. None where fewer than two workers are asked for or the platform cannot
    fork: the caller then does the work itself."""
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        return list(pool.map(function, items, chunksize=chunksize))


def die_with_parent(parent: int) -> None:
    """In a child process: be killed when the parent process ends, however it ends (also by
    SIGKILL, which leaves it no time to stop its children). Linux only; elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before prctl: no signal will come
        os._exit(1)
