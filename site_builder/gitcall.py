"""A git command whose output is read, where a failure is an answer (None), not an error."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_output(cwd: Path, *args: str, binary: bool = False):
    """git's standard output (bytes where binary), or None where git is missing or fails."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=not binary)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None
