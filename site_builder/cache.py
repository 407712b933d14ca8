"""Cache keys of a project's notebooks: what each step's results depend on.

A step's key hashes its code cells, the parameters it runs with, project.yml, the local
modules it imports, the raw data (step 1 reads it), the library versions and backend, and
the key of the step before it, so any change upstream changes every key downstream.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from . import STEPS
from .errors import PortfolioError, os_error_line
from .layout import Project

# After the Keras backend's own library (tensorflow, jax or torch).
LIBRARIES = ("keras", "scikit-learn", "pandas", "numpy")
_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(value) -> str:
    return sha256_bytes(json.dumps(value, sort_keys=True, default=str).encode())


@cache
def library_versions(backend: str = "tensorflow") -> dict[str, str]:
    """Python's version and the modelling libraries', the Keras backend's first."""
    versions = {"python": platform.python_version()}
    for name in (backend, *LIBRARIES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def hash_tree(root: Path, skip: tuple[str, ...] = ()) -> str:
    """One hash over every file's relative path and content under root (skipping some folders)."""
    digest = hashlib.sha256()
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if rel.parts and rel.parts[0] in skip or not path.is_file():
                continue
            if any(part.startswith(".") for part in rel.parts):
                continue
            digest.update(str(rel).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def read_notebook_json(path: Path, display: str) -> dict:
    """The notebook as plain JSON: hashing needs no schema validation (nbformat.read is slow).
    A missing or unreadable notebook is a one-line PortfolioError naming display."""
    try:
        notebook = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise PortfolioError(f"{display}: missing") from None
    except OSError as exc:
        raise PortfolioError(os_error_line(exc, display)) from None
    except ValueError as exc:  # JSON and UTF-8 errors
        raise PortfolioError(f"{display}: not a valid notebook ({exc})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise PortfolioError(f"{display}: not a valid notebook (no list of cells)")
    return notebook


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def fast_parameters(notebook: dict) -> dict:
    return dict(notebook.get("metadata", {}).get("portfolio", {}).get("fast_parameters", {}) or {})


def run_parameters(notebook: dict, fast: bool) -> dict:
    return fast_parameters(notebook) if fast else {}


def code_hash(notebook: dict) -> str:
    cells = [_source(c) for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    portfolio = notebook.get("metadata", {}).get("portfolio", {})
    return sha256_json({"code": cells, "portfolio": portfolio})


def local_modules(project: Project, notebook: dict) -> dict[str, str]:
    """Hashes of the project's own modules (notebooks/*.py) that the notebook imports."""
    code = "\n".join(_source(c) for c in notebook.get("cells", []) if c.get("cell_type") == "code")
    imported = set(_IMPORT.findall(code))
    return {
        path.name: sha256_bytes(path.read_bytes())
        for path in sorted(project.notebooks_dir.glob("*.py"))
        if path.stem in imported
    }


# What project.yml says about how a project is shown, not about how it runs: the notebooks
# never read these, so changing them (a summary written after the results are in) leaves
# the export up to date. The model card in export/model is refreshed from them instead.
PRESENTATION_FIELDS = ("title", "summary", "tags", "featured", "cover", "model_card")


def settings_hash(text: bytes) -> str:
    """The hash of project.yml without its presentation fields (of its bytes, where it is not
    a YAML mapping: loading it then fails with its own message)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        return sha256_bytes(text)
    return sha256_json({k: v for k, v in data.items() if k not in PRESENTATION_FIELDS})


@dataclass(frozen=True)
class StepInputs:
    step: str
    key: str
    parts: dict


def step_inputs(project: Project, fast: bool, backend: str = "tensorflow") -> list[StepInputs]:
    """The cache key of each step, in order; reads the notebooks and data, runs nothing."""
    shared = {
        "project.yml": settings_hash(project.config_file.read_bytes()),
        "versions": library_versions(backend),
        "backend": backend,
        "fast": fast,
    }
    data = hash_tree(project.data_dir, skip=("prepared",))
    previous = ""
    result = []
    for index, step in enumerate(STEPS):
        notebook = read_notebook_json(project.notebook(step),
                                      f"{project.slug}: notebooks/{step}.ipynb")
        parts = {
            **shared,
            "code": code_hash(notebook),
            "parameters": run_parameters(notebook, fast),
            "modules": local_modules(project, notebook),
            "data": data if index == 0 else None,
            "previous": previous,
        }
        key = sha256_json(parts)
        result.append(StepInputs(step, key, parts))
        previous = key
    return result


def changed_input(old: dict, new: dict) -> str | None:
    """The first input that differs between two steps' parts, named for a person."""
    names = {
        "code": "notebook code",
        "parameters": "parameters",
        "modules": "local modules",
        "data": "data",
        "project.yml": "project.yml",
        # Before the versions: another backend lists its own library's version.
        "backend": "backend",
        "versions": "library versions",
        "fast": "smoke/full mode",
    }
    for field, label in names.items():
        if old.get(field) != new.get(field):
            return label
    return None
