"""User-facing errors: one line, exit code 1, no traceback."""

import click


class PortfolioError(click.ClickException):
    """An error the user can fix; the CLI prints its one-line message and exits 1."""

    exit_code = 1


class ProjectError(PortfolioError):
    """An invalid project (project.yml, data or notebooks)."""


def os_error_line(exc: OSError, where: str) -> str:
    """What an OSError says (a full disk, a read-only folder) after the place it happened."""
    what = exc.strerror or str(exc)
    return f"{where}: {what[:1].lower()}{what[1:]}"
