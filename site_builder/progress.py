"""Feedback while projects run: a live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time

import click

from . import STEPS

# In plain-line mode, a running step says where it is at most this often (seconds).
DETAIL_EVERY = 10.0


class Progress:
    """Called with the runner's events; a context manager around the whole run."""

    def __init__(self, live: bool | None = None):
        self.live = sys.stdout.isatty() if live is None else live
        self.rows: dict[str, dict] = {}
        self._live = None

    def __enter__(self) -> Progress:
        if self.live:
            from rich.live import Live

            self._live = Live(self._table(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def __call__(self, event: dict) -> None:
        slug, kind = event["project"], event["event"]
        row = self.rows.setdefault(slug, {"state": "waiting", "step": "", "since": time.monotonic()})
        if kind == "cached":
            row.update(state="up to date")
        elif kind == "start":
            row.update(state=f"running ({event['reason']})", since=time.monotonic())
        elif kind == "step":
            row.update(step=event["step"], detail="")
        elif kind == "detail":
            row.update(detail=event["detail"])
        elif kind == "step-done":
            row.update(step=f"{event['step']} done", detail="")
        elif kind == "done":
            row.update(state="exported", step="", seconds=event["seconds"])
        elif kind == "failed":
            row.update(state="failed", message=event["message"])
        elif kind == "queued":
            row.update(state="queued on the cluster")
        elif kind == "finished":
            result = event["result"]
            row.update(state={"ran": "exported", "cached": "up to date"}.get(result.status,
                                                                              "failed"),
                       message=result.message if result.status == "failed" else "")
        if self._live is not None:
            self._live.update(self._table())
            if kind == "failed" or row.get("state") == "failed" and kind == "finished":
                from rich.text import Text

                # The message is the user's text, not markup, and stays on one line.
                self._live.console.print(Text.assemble(("Error:", "red"), " ", row["message"]),
                                         soft_wrap=True, highlight=False)
        else:
            self._line(event, row)

    def _line(self, event: dict, row: dict) -> None:
        kind, slug = event["event"], event["project"]
        if kind == "detail":
            now = time.monotonic()
            if now - row.get("detail_shown", row["since"]) >= DETAIL_EVERY:
                row["detail_shown"] = now
                click.echo(f"{slug}: {event['step']}: {event['detail']}")
        elif kind == "cached":
            click.echo(f"{slug}: up to date, nothing to run")
        elif kind == "start":
            click.echo(f"{slug}: running from {event['from']} ({event['reason']})")
        elif kind == "step-done":
            click.echo(f"{slug}: {event['step']} done in {event['seconds']:.1f} s")
        elif kind == "done":
            click.echo(f"{slug}: exported in {event['seconds']:.1f} s")
        elif kind == "failed":
            click.echo(f"Error: {event['message']}", err=True)
        elif kind == "queued":
            click.echo(f"{slug}: queued on the cluster")
        elif kind == "finished":
            result = event["result"]
            if result.status == "failed":
                click.echo(f"Error: {result.message}", err=True)
            else:
                click.echo(f"{slug}: {'exported' if result.status == 'ran' else 'up to date'}"
                           f" in {result.seconds:.1f} s")

    def _table(self):
        from rich.table import Table
        from rich.text import Text

        table = Table(title="portfolio run", expand=False)
        for column in ("project", "step", "where", "state", "elapsed"):
            table.add_column(column)
        for slug, row in self.rows.items():
            elapsed = row.get("seconds")
            if elapsed is None and row["state"].startswith("running"):
                elapsed = time.monotonic() - row["since"]
            step = row["step"]
            if step and step.split()[0] in STEPS:
                step = f"{STEPS.index(step.split()[0]) + 1}/5 {step}"
            # What a notebook says is its own text, not markup.
            table.add_row(slug, step, Text(row.get("detail", "")), row["state"],
                          f"{elapsed:.0f} s" if elapsed else "")
        return table
