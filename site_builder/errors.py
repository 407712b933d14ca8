"""User-facing errors: one line, exit code 1, no traceback."""

import click


class PortfolioError(click.ClickException):
    """An error the user can fix; the CLI prints its one-line message and exits 1."""

    exit_code = 1


class ProjectError(PortfolioError):
    """An invalid project (project.yml, data or notebooks)."""
