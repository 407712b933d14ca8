"""`portfolio run`: execute a project's notebooks in order and export what they found."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from . import STEPS
from .cache import (
    StepInputs,
    changed_input,
    library_versions,
    read_notebook_json,
    run_parameters,
    step_inputs,
)
from .config import load_project
from .errors import PortfolioError, ProjectError, os_error_line
from .export import swap_in, write_json
from .kernels import StartedKernel, imported_modules, register_engine
from .layout import Portfolio, Project
from .notebook import PROCESSES_ENV, PROGRESS_ENV, cores, processes_for, processes_from
from .records import (
    Failure,
    Manifest,
    Metrics,
    RunState,
    as_json,
    problem,
    read_record,
    write_record,
)

BACKENDS = ("tensorflow", "jax", "torch")
# A notebook that imports one of these trains: its kernel's imports take seconds.
TRAINING_MODULES = {"keras", *BACKENDS}
# A loaded machine can take over a minute to start a kernel and import its libraries.
START_TIMEOUT = 300
# How often a running notebook's progress file is read (seconds).
PROGRESS_POLL = 0.5
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

Report = Callable[[dict], None]


@dataclass(frozen=True)
class RunOptions:
    fast: bool = False
    force: bool = False
    timeout: int | None = None
    backend: str = "tensorflow"
    workers: int | None = None
    scheduler: str | None = None
    keep_going: bool = False
    # How many processes a notebook trains in side by side (`pf.in_parallel`): None, one per
    # two of the cores shared out among the projects that run side by side.
    processes: int | None = None


@dataclass
class ProjectResult:
    slug: str
    status: str  # "ran", "cached" or "failed"
    message: str = ""
    executed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    failure: Failure | None = None


def _failed(slug: str, failure: Failure, executed: list[str] | None = None,
            seconds: float = 0.0) -> ProjectResult:
    return ProjectResult(slug, "failed", failure.message, executed or [], seconds, failure)


class StepFailed(Exception):
    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


def exported_manifest(project: Project) -> Manifest | None:
    """The export's record of its run; None where the project has none yet."""
    path = project.export_dir / "manifest.json"
    if not path.exists():
        return None
    return read_record(Manifest, path, project.rel(path))


def usable_manifest(project: Project) -> tuple[Manifest | None, str | None]:
    """The export's manifest for planning a run, and what was wrong with it: a corrupt one
    is no record of a run (its steps all run again), not a reason to refuse the run."""
    try:
        return exported_manifest(project), None
    except PortfolioError as exc:
        return None, exc.message


def read_manifest(project: Project) -> dict:
    """export/manifest.json as plain JSON values, empty where there is none; a corrupt one is
    a one-line PortfolioError."""
    manifest = exported_manifest(project)
    return as_json(manifest) if manifest else {}


def _state_file(project: Project) -> Path:
    return project.state_dir / "state.json"


def read_run_state(project: Project) -> tuple[RunState, str | None]:
    """The project's working state, and what was wrong with it: a corrupt state is working
    state lost, so every step runs again."""
    path = _state_file(project)
    if not path.exists():
        return RunState(), None
    try:
        return read_record(RunState, path, project.rel(path)), None
    except PortfolioError as exc:
        return RunState(), exc.message


def _write_state(project: Project, state: RunState) -> None:
    project.state_dir.mkdir(parents=True, exist_ok=True)
    write_record(_state_file(project), state)


@dataclass(frozen=True)
class Plan:
    inputs: list[StepInputs]
    start: int  # index of the first step to execute; len(STEPS) when nothing is to run
    reason: str


def plan_run(project: Project, options: RunOptions, working_files: bool = True) -> Plan:
    """Which steps must run: from the first whose inputs changed since the export, or
    (with `working_files`) earlier where the files an earlier step writes are not current."""
    inputs = step_inputs(project, options.fast, options.backend)
    manifest, unreadable = usable_manifest(project)
    exported = {n.step: n for n in manifest.notebooks} if manifest else {}
    if options.force:
        start, reason = 0, "forced"
    elif unreadable:  # the run that replaces it is the way out
        start, reason = 0, f"{unreadable}; every step runs again"
    else:
        start, reason = len(STEPS), "nothing changed"
        for index, step in enumerate(inputs):
            old = exported.get(step.step)
            if old is None or old.key != step.key:
                start = index
                if old is None:
                    reason = "never run" if not exported else f"{step.step}: no export"
                else:
                    what = changed_input(old.inputs, step.parts) or "inputs"
                    reason = f"{step.step}: {what} changed"
                break
    if working_files and start < len(STEPS):
        state, problem = read_run_state(project)
        for index in range(start):
            if state.steps.get(inputs[index].step) != inputs[index].key:
                start = index
                reason += f"; {inputs[index].step}: working files not current"
                if problem:
                    reason += f" ({problem})"
                break
    return Plan(inputs, start, reason)


def _log_traceback(project: Project, step: str, text: str) -> Path:
    project.logs_dir.mkdir(parents=True, exist_ok=True)
    log = project.logs_dir / f"{step}.log"
    log.write_text(_ANSI.sub("", text) + "\n", encoding="utf-8")
    return log


def _source_cell_number(executed: Path, cell_index: int | None = None) -> int | None:
    """1-based number, in the user's notebook (without injected cells), of the cell at
    cell_index of the executed notebook, or (None) of the last cell that started running."""
    import nbformat

    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        return None if cell_index is None else cell_index + 1
    # papermill puts an error-marker cell first after a failure; cell_index predates it.
    cells = [c for c in cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    if cell_index is None:
        # papermill saves the notebook as each cell starts and ends, with its start time.
        started = [i for i, c in enumerate(cells) if c.metadata.get("papermill", {}).get("start_time")]
        if not started:
            return None
        cell_index = started[-1]
    injected = sum(
        1 for cell in cells[:cell_index] if "injected-parameters" in cell.metadata.get("tags", [])
    )
    return cell_index - injected + 1


def start_kernel(project: Project, step: str, after: StartedKernel | None = None,
                 fast: bool = False, processes: int | None = None) -> StartedKernel:
    """A kernel for one of the project's notebooks, importing what that notebook imports
    (once the kernel `after` has imported its own).

    In a fast run TensorFlow's oneDNN kernels are off unless TF_ENABLE_ONEDNN_OPTS says
    otherwise: they build their primitives on first use, which a fast run's few short fits pay
    for (29 s against 26 s for a new classification project's fast run, side by side)."""
    env = _step_environment(project, step, processes)
    if fast and "TF_ENABLE_ONEDNN_OPTS" not in os.environ:
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    return StartedKernel(project.notebooks_dir, project.logs_dir / "kernel.log",
                         _imports(project, step), after, env=env)


def _imports(project: Project, step: str) -> list[str]:
    return imported_modules(read_notebook_json(project.notebook(step), _shown(project, step)),
                            project.dir)


def _step_environment(project: Project, step: str, processes: int | None) -> dict[str, str]:
    env = {PROGRESS_ENV: str(progress_file(project, step))}
    if processes and PROCESSES_ENV not in os.environ:
        env[PROCESSES_ENV] = str(processes)
    return env


def notebook_processes(options: RunOptions) -> int | None:
    """How many processes each notebook trains in side by side: $PORTFOLIO_PROCESSES where set;
    1 in a fast run, whose fits are too short to pay for starting processes that import
    Keras; else `options.processes`, from the cores shared out among the projects running
    (`pf.processes_for`)."""
    if PROCESSES_ENV in os.environ:
        try:
            return processes_from(os.environ[PROCESSES_ENV])
        except ValueError as exc:
            raise PortfolioError(str(exc)) from None
    return 1 if options.fast else options.processes


def kernel_leaders(project: Project, start: int, fast: bool) -> list[int]:
    """For each step, the step whose kernel it runs on: its own, or in a fast run, where it
    and the step before it both train (import Keras or a backend) or both do not, that step's
    kernel (see `site_builder.kernels`). Steps before `start` are not run and share nothing."""
    leaders = list(range(len(STEPS)))
    if not fast:
        return leaders
    trains = [bool({name.partition(".")[0] for name in _imports(project, step)} & TRAINING_MODULES)
              for step in STEPS]
    for index in range(max(start, 1), len(STEPS)):
        if index - 1 >= start and trains[index] == trains[index - 1]:
            leaders[index] = leaders[index - 1]
    return leaders


def progress_file(project: Project, step: str) -> Path:
    """Where a notebook's `pf.progress` lines go while it runs (outside the export)."""
    return project.state_dir / "progress" / f"{step}.txt"


class _ProgressReader(threading.Thread):
    """Reports the last line a running notebook wrote to its progress file, when it changes."""

    def __init__(self, path: Path, report: Report, event: dict):
        super().__init__(name="portfolio-progress", daemon=True)
        self.path, self.report, self.event = path, report, event
        self.stopped = threading.Event()

    def run(self) -> None:
        shown, offset, line = "", 0, ""
        while not self.stopped.wait(PROGRESS_POLL):
            try:
                with self.path.open("rb") as file:
                    file.seek(offset)
                    chunk = file.read()
            except OSError:  # not written yet
                continue
            offset += len(chunk)
            lines = chunk.decode("utf-8", "replace").splitlines()
            line = lines[-1] if lines else line
            if line and line != shown:
                shown = line
                self.report({**self.event, "detail": line})


def _shown(project: Project, step: str) -> str:
    return f"{project.slug}: notebooks/{step}.ipynb"


def execute_step(project: Project, step: str, output: Path, options: RunOptions,
                 kernel: StartedKernel, report: Report | None = None, *,
                 after: str | None = None, keep: bool = False) -> None:
    """Execute one notebook with a real kernel, in the notebooks folder, into output.

    The kernel, one from `start_kernel`, is stopped when the notebook is done, unless `keep`
    (the next notebook runs on it) and the notebook succeeded; `after`: the step that ran on
    it before, and it is reset first. What the notebook says with `pf.progress` is reported as
    `detail` events while it runs.
    """
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    source = project.notebook(step)
    where = _shown(project, step)

    def failed(what: str, cell: int | None = None, log: Path | None = None) -> StepFailed:
        cell = _source_cell_number(output) if cell is None else cell
        at = f"cell {cell}: " if cell is not None else ""
        return StepFailed(Failure(message=f"{where}: {at}{what}", step=step, cell=cell,
                                  log=str(log) if log else None))

    progress = progress_file(project, step)
    progress.parent.mkdir(parents=True, exist_ok=True)
    progress.unlink(missing_ok=True)
    progress.with_name(progress.name + ".fits").unlink(missing_ok=True)  # `pf.fit_progress`'s
    reader = _ProgressReader(progress, report or (lambda event: None),
                             {"event": "detail", "project": project.slug, "step": step})
    reader.start()
    succeeded = False
    try:
        parameters = run_parameters(read_notebook_json(source, where), options.fast)
        if after is not None:
            why = kernel.reset(project.dir, project.notebooks_dir,
                               _step_environment(project, step, notebook_processes(options)),
                               _imports(project, step), START_TIMEOUT)
            if why is not None:
                raise failed(f"could not start on the kernel it shares with "
                             f"notebooks/{after}.ipynb in a fast run ({why}); "
                             "PORTFOLIO_SHARED_KERNELS=0 gives each notebook a kernel of its own")
        pm.execute_notebook(
            _literal_path(source),
            _literal_path(output),
            parameters=parameters,
            engine_name=register_engine(),
            km=kernel.take(timeout=START_TIMEOUT),
            kernel_name="python3",
            cwd=str(project.notebooks_dir),
            log_output=False,
            progress_bar=False,
            execution_timeout=options.timeout,
            start_timeout=START_TIMEOUT,
            keep_kernel=keep,
        )
        succeeded = True
    except PapermillExecutionError as exc:
        log = _log_traceback(project, step, "\n".join(exc.traceback))
        evalue = (exc.evalue or "").strip().splitlines()
        detail = f"{exc.ename}: {evalue[0]}" if evalue else exc.ename
        raise failed(f"{detail} (traceback in {log})", _source_cell_number(output, exc.cell_index),
                     log) from None
    except CellTimeoutError:
        raise failed(f"ran longer than the {options.timeout} s timeout; stopped") from None
    except DeadKernelError:
        raise failed("the kernel died (it crashed or ran out of memory)") from None
    except RuntimeError as exc:
        if "Kernel died" in str(exc) or "kernel" in str(exc).lower():
            raise failed(f"the kernel died ({str(exc).splitlines()[0]})") from None
        raise
    finally:
        reader.stopped.set()
        reader.join()
        if not (keep and succeeded):
            kernel.stop()


def _literal_path(path: Path) -> str:
    """A path as papermill reads it: it fills `{name}` in paths with parameters, so braces in a
    folder's name are doubled to stay as they are."""
    return str(path).replace("{", "{{").replace("}", "}}")


def kernels_ahead() -> int:
    """How many notebooks after the running one have their kernel started and importing.

    Two: the notebooks of steps 1 and 2 take a few seconds, less than importing TensorFlow
    for step 3. PORTFOLIO_KERNELS_AHEAD=0 starts each kernel when its notebook's turn comes.
    """
    value = os.environ.get("PORTFOLIO_KERNELS_AHEAD", "2")
    if not value.isdigit():
        raise PortfolioError(f"PORTFOLIO_KERNELS_AHEAD: expected a whole number, got '{value}'")
    return int(value)


def shared_kernels() -> bool:
    """Whether a fast run's steps share kernels (`kernel_leaders`): yes, unless
    PORTFOLIO_SHARED_KERNELS=0, which gives each notebook a kernel of its own, as a full run
    does (to rule out one notebook leaving something behind for the next)."""
    value = os.environ.get("PORTFOLIO_SHARED_KERNELS", "1")
    if value not in ("0", "1"):
        raise PortfolioError(f"PORTFOLIO_SHARED_KERNELS: expected 0 or 1, got '{value}'")
    return value == "1"


def _kernel_environment(options: RunOptions) -> None:
    os.environ["KERAS_BACKEND"] = options.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's oneDNN kernels are left on (its default on x86): the digits CNN's full run
    # took 199 s with them against 232 s without, side by side, as reproducibly; the MLP and
    # LSTM examples' figures are the same either way. The line TensorFlow prints about them
    # goes to the kernel log, not into the notebook.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # Several kernels share a GPU (the next notebooks' kernels start while one trains, and
    # projects run in parallel): each takes GPU memory as it needs it, not most of it at once.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")


def _up_to_date(project: Project, config) -> None:
    """What a run does for a project whose export is current: its model card follows
    project.yml, and a failure recorded since is forgotten (what failed was undone)."""
    _refresh_model_card(project, config)
    _forget_failure(project)


def _refresh_model_card(project: Project, config) -> None:
    """An up-to-date export's model card, rewritten where project.yml's presentation fields
    (title, summary, model_card) changed since the run: nothing else in the export reads them."""
    card = project.export_dir / "model" / "README.md"
    if not card.is_file():
        return
    from .modelcard import model_card

    try:
        metrics = json.loads((project.export_dir / "metrics.json").read_text(encoding="utf-8"))
        text = model_card(config, metrics)
        if card.read_text(encoding="utf-8") != text:
            partial = card.with_name("README.md.partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(card)
    except (OSError, ValueError):
        return  # the card stays as the run wrote it; `portfolio check` reads the export


def run_project(project_dir: Path, options: RunOptions, report: Report | None = None) -> ProjectResult:
    """Run what changed in one project and swap a new export/ in; on failure keep the old one."""
    report = report or (lambda event: None)
    project = Project(Path(project_dir))
    started = time.monotonic()
    try:
        config = load_project(project.dir)
        for path in project.notebooks():
            if not path.is_file():
                raise ProjectError(f"{project.slug}: notebooks/{path.name}: missing")
        plan = plan_run(project, options)
    except PortfolioError as exc:
        report({"event": "failed", "project": project.slug, "message": exc.message})
        return _failed(project.slug, Failure(message=exc.message))
    if plan.start == len(STEPS):
        _up_to_date(project, config)
        report({"event": "cached", "project": project.slug})
        return ProjectResult(project.slug, "cached", plan.reason)

    _kernel_environment(options)
    staging = project.state_dir / "staging"
    manifest = usable_manifest(project)[0]
    old_manifest = {n.step: n for n in manifest.notebooks} if manifest else {}
    steps = dict(read_run_state(project)[0].steps)
    report({"event": "start", "project": project.slug, "from": STEPS[plan.start],
            "reason": plan.reason})
    records, executed = [], []
    # The next notebooks' kernels start, and import their libraries, while one notebook runs.
    kernels: dict[int, StartedKernel] = {}
    ahead = kernels_ahead()
    try:
        leaders = kernel_leaders(project, plan.start, options.fast and shared_kernels())
        if staging.exists():
            shutil.rmtree(staging)
        (staging / "notebooks").mkdir(parents=True)
        for index, step in enumerate(plan.inputs):
            target = staging / "notebooks" / f"{step.step}.ipynb"
            if index < plan.start:
                shutil.copy2(project.export_dir / "notebooks" / f"{step.step}.ipynb", target)
                records.append({**as_json(old_manifest[step.step]), "executed": False})
                continue
            for later in range(index, min(index + 1 + ahead, len(STEPS))):
                leader = leaders[later]
                if leader not in kernels and leader >= index:
                    before = leaders[leader - 1] if leader else None
                    kernels[leader] = start_kernel(project, STEPS[leader], kernels.get(before),
                                                   options.fast, notebook_processes(options))
            report({"event": "step", "project": project.slug, "step": step.step})
            steps = {k: v for k, v in steps.items() if STEPS.index(k) < index}
            _write_state(project, RunState(steps=steps))
            t0 = time.monotonic()
            keep = index + 1 < len(STEPS) and leaders[index + 1] == leaders[index]
            kernel = kernels[leaders[index]] if keep else kernels.pop(leaders[index])
            if index == len(STEPS) - 1:
                # The last step saves the model: nothing of an earlier run may be exported with it.
                _empty(project.artifacts_dir / "model")
            execute_step(project, step.step, target, options, kernel, report,
                         after=STEPS[index - 1] if leaders[index] != index else None,
                         keep=keep)
            seconds = round(time.monotonic() - t0, 2)
            steps[step.step] = step.key
            _write_state(project, RunState(steps=steps))
            executed.append(step.step)
            records.append({"step": step.step, "key": step.key, "inputs": step.parts,
                            "seconds": seconds, "executed": True})
            report({"event": "step-done", "project": project.slug, "step": step.step,
                    "seconds": seconds})
        _write_export(project, config, staging, records, options)
        swap_in(staging, project.export_dir)
        _write_state(project, RunState(steps=steps))
    except (StepFailed, OSError, PortfolioError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, StepFailed):
            failure = exc.failure
        elif isinstance(exc, PortfolioError):
            failure = Failure(message=exc.message)
        else:
            failure = Failure(message=os_error_line(exc, _where(project, staging, exc.filename)))
        report({"event": "failed", "project": project.slug, "message": failure.message,
                "step": failure.step or ""})
        return _failed(project.slug, failure, executed, time.monotonic() - started)
    except KeyboardInterrupt:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        for kernel in kernels.values():
            kernel.stop()
    seconds = time.monotonic() - started
    report({"event": "done", "project": project.slug, "seconds": seconds})
    return ProjectResult(project.slug, "ran", plan.reason, executed, seconds)


def _empty(path: Path) -> None:
    """Remove `path` (a folder, a file, or a link, never what a link points to), if there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _where(project: Project, staging: Path, filename: str | None) -> str:
    """Where an OSError of a run happened: the file it names, or the staging folder (a write
    to an open file names none)."""
    path = Path(filename) if filename else staging
    if path.is_relative_to(staging):
        path = staging
    try:
        return f"{project.slug}: {path.relative_to(project.dir)}"
    except ValueError:
        return str(path)


def _write_export(project: Project, config, staging: Path, records: list[dict],
                  options: RunOptions) -> None:
    import nbformat

    notebooks = {
        step: nbformat.read(staging / "notebooks" / f"{step}.ipynb", as_version=4)
        for step in STEPS
    }
    from .export import collect_metrics, environment, extract_figures

    metrics = collect_metrics(notebooks, config, options.fast)
    if metrics["primary"] is None:
        raise StepFailed(Failure(
            message=f"{project.slug}: notebooks/05_present_results.ipynb: recorded no test score "
                    f"for the primary metric '{config.metric.name}' (pf.record(..., split='test'))",
            step=STEPS[-1]))
    figures = staging / "figures"
    figures.mkdir()
    for name, data in extract_figures(notebooks).items():
        (figures / name).write_bytes(data)
    model = project.artifacts_dir / "model"
    if model.is_dir():
        shutil.copytree(model, staging / "model")
        from .modelcard import model_card

        (staging / "model" / "README.md").write_text(model_card(config, metrics),
                                                      encoding="utf-8")
    env = environment(notebooks)
    manifest = {
        "schema_version": 1,
        "project": project.slug,
        "smoke_run": options.fast,
        "seed": config.seed,
        "backend": env.get("backend", options.backend),
        "device": env.get("device", "CPU"),
        "versions": library_versions(options.backend),
        "inputs": {
            "project.yml": records[0]["inputs"]["project.yml"],
            "data": records[0]["inputs"]["data"],
        },
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(sum(r["seconds"] for r in records), 2),
        "notebooks": records,
    }
    # What the notebooks recorded is checked here, where a bad record can be named, and not
    # first by the build.
    for name, kind, value in (("metrics.json", Metrics, metrics),
                              ("manifest.json", Manifest, manifest)):
        try:
            kind.model_validate(value)
        except ValidationError as exc:
            raise StepFailed(Failure(message=f"{project.slug}: the run's {name}: {problem(exc)}")) \
                from None
        write_json(staging / name, value)


def _forget_failure(project: Project) -> None:
    state, _ = read_run_state(project)
    if state.failed is not None:
        try:
            _write_state(project, RunState(steps=state.steps))
        except OSError:
            pass  # a portfolio that cannot be written to: status says the failure until it can


def _record_failure(project: Project, failure: Failure) -> None:
    state, _ = read_run_state(project)
    try:
        _write_state(project, RunState(steps=state.steps, failed=failure))
    except OSError:
        pass  # a portfolio that cannot be written to: the failure was reported, not recorded


def _dispatch(todo: list[Project], options: RunOptions, progress) -> list[ProjectResult]:
    """Run the projects: in this process, on local processes, or on a Dask cluster."""
    workers = options.workers or os.cpu_count() or 1
    if options.processes is None and not options.scheduler:
        # The cores are shared out among the projects that run side by side; a Dask worker's
        # notebooks use the cores of its machine.
        side_by_side = min(workers, len(todo))
        options = replace(options, processes=processes_for(cores() // side_by_side))
    if options.scheduler:
        from distributed import Client

        try:
            client = Client(options.scheduler, timeout="10s")
        except OSError as exc:
            raise PortfolioError(f"--scheduler {options.scheduler}: cannot connect ({exc})") from None
        with client:
            futures = [client.submit(run_project, p.dir, options, pure=False, key=f"run-{p.slug}")
                       for p in todo]
            for project in todo:
                progress({"event": "queued", "project": project.slug})
            results = []
            for future in futures:
                result = future.result()
                progress({"event": "finished", "project": result.slug, "result": result})
                results.append(result)
            return results
    if workers == 1 or len(todo) == 1:
        results = []
        for project in todo:
            result = run_project(project.dir, options, progress)
            results.append(result)
            if result.status == "failed" and not options.keep_going:
                break
        return results
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # Spawned, not forked from a forkserver: each worker is a child of this process, and is
    # killed with it (its kernels follow it, ipykernel watches its parent).
    context = multiprocessing.get_context("spawn")
    # A put into a SimpleQueue is written before the task's result: no event comes late.
    events = context.SimpleQueue()
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context,
                             initializer=_worker_start, initargs=(os.getpid(), events)) as pool:
        pending = {pool.submit(_run_in_worker, p.dir, options) for p in todo}
        results = []
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while not events.empty():
                progress(events.get())
            for future in done:
                result = future.result()
                results.append(result)
                if result.status == "failed" and not options.keep_going:
                    for other in pending:
                        other.cancel()
        return results


_EVENTS = None


def _worker_start(parent: int, events) -> None:
    from .cli import without_iri_grammar
    from .site.workers import die_with_parent

    without_iri_grammar()
    global _EVENTS
    die_with_parent(parent)
    _EVENTS = events


def _run_in_worker(project_dir: Path, options: RunOptions) -> ProjectResult:
    return run_project(project_dir, options, _EVENTS.put)


def run_projects(portfolio: Portfolio, slugs: list[str], options: RunOptions) -> list[ProjectResult]:
    """Run every chosen project that changed; projects in parallel, steps in order."""
    from .locking import portfolio_lock
    from .progress import Progress

    if options.backend not in BACKENDS:
        raise PortfolioError(
            f"--backend: unknown backend '{options.backend}' (choose from {', '.join(BACKENDS)})"
        )
    check_backend(options.backend)
    kernels_ahead()
    shared_kernels()
    notebook_processes(options)
    known = {p.slug: p for p in portfolio.projects()}
    for slug in slugs:
        if slug not in known:
            raise PortfolioError(
                f"{slug}: no such project in {portfolio.rel(portfolio.projects_dir)}"
                + (f" (projects: {', '.join(known)})" if known else "")
            )
    chosen = [known[s] for s in slugs] if slugs else list(known.values())
    with portfolio_lock(portfolio, "run"), Progress() as progress:
        results, todo = [], []
        for project in chosen:
            try:
                config = load_project(project.dir, portfolio.rel(project.config_file))
                plan = plan_run(project, options)
            except PortfolioError as exc:
                results.append(_failed(project.slug, Failure(message=exc.message)))
                progress({"event": "failed", "project": project.slug, "message": exc.message})
                continue
            if plan.start == len(STEPS):
                _up_to_date(project, config)
                results.append(ProjectResult(project.slug, "cached", plan.reason))
                progress({"event": "cached", "project": project.slug})
            else:
                todo.append(project)
        # An invalid project.yml leaves that project out; the others still run.
        if todo:
            try:
                results += _dispatch(todo, options, progress)
            except KeyboardInterrupt:
                raise PortfolioError(
                    "interrupted: the running projects were stopped; their previous exports "
                    "are kept"
                ) from None
    for result in results:
        if result.failure:
            _record_failure(portfolio.project(result.slug), result.failure)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise PortfolioError(f"{len(failed)} of {len(chosen)} project(s) failed")
    return results


EXTRAS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def check_backend(backend: str) -> None:
    """A one-line error naming the extra to install when the backend is missing."""
    from importlib.util import find_spec

    if find_spec(EXTRAS[backend]) is None:
        raise PortfolioError(
            f"--backend {backend}: {EXTRAS[backend]} is not installed; install it with "
            f"pip install \"dl-portfolio-kit[{backend}]\""
        )
