"""`portfolio serve`: the site on localhost, rebuilt and reloaded in the browser on a change.

MkDocs' livereload server serves site/ and injects the reload script into each page. What
it watches by itself (through `watch`) is polled whole and folder events are ignored, while a
run replaces a project's export/ by renaming folders and a project's data/ may hold thousands
of images: so the portfolio's folders are watched here, with the platform's file events,
and only the files the site is built from ask for a rebuild.
"""

from __future__ import annotations

import logging
import socket
from pathlib import PurePath

import click
from mkdocs.livereload import LiveReloadServer
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .errors import PortfolioError
from .layout import Portfolio
from .site.build import ASSETS, THEME, build_site


def site_input(portfolio: Portfolio, path: str) -> bool:
    """Whether a changed path is one the site is built from: mkdocs.yml, what lies beside
    profile.yml (the profile, its photo), and each project's project.yml and export/."""
    try:
        parts = PurePath(path).relative_to(portfolio.root).parts
    except ValueError:
        return False
    if parts == ("mkdocs.yml",):
        return True
    if len(parts) < 2 or parts[0] != "portfolio":
        return False
    if parts[1] != "projects":
        return len(parts) == 2
    return len(parts) >= 4 and (parts[3] == "project.yml" and len(parts) == 4
                                or parts[3] == "export")


class _Server(LiveReloadServer):
    def server_activate(self) -> None:
        super().server_activate()
        click.echo(f"Serving on {self.url} (Ctrl-C stops)")

    def request_rebuild(self) -> None:
        # What the handler that LiveReloadServer.watch installs does on a change.
        with self._rebuild_cond:
            self._want_rebuild = True
            self._rebuild_cond.notify_all()


class _SiteInputs(FileSystemEventHandler):
    def __init__(self, portfolio: Portfolio, server: _Server):
        self.portfolio = portfolio
        self.server = server

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if any(site_input(self.portfolio, str(p)) for p in paths if p):
            self.server.request_rebuild()


def rebuild(portfolio: Portfolio) -> None:
    """Build the site, or say in one line why not: a failed build leaves site/ as it was."""
    try:
        if build_site(portfolio) is not None:
            click.echo(f"built {portfolio.rel(portfolio.root / 'site')}")
    except PortfolioError as exc:
        click.echo(f"Error: {exc.message}", err=True)


def serve(portfolio: Portfolio, host: str = "127.0.0.1", port: int = 8000) -> None:
    # The server's own messages (a missing file, a failed request) go to the terminal, not
    # to MkDocs' logger, where a build would count them among its warnings.
    log = logging.getLogger("mkdocs.livereload")
    log.propagate = False
    log.addHandler(logging.StreamHandler())
    rebuild(portfolio)
    server = _Server(lambda: rebuild(portfolio), host, port, str(portfolio.root / "site"))
    # The kit's own theme and assets (edited in an editable install); watching something
    # through the server is also what makes it inject the reload script.
    for folder in (THEME, ASSETS):
        server.watch(str(folder))
    observer = Observer()
    handler = _SiteInputs(portfolio, server)
    observer.schedule(handler, str(portfolio.root), recursive=False)
    observer.schedule(handler, str(portfolio.root / "portfolio"), recursive=True)
    observer.start()
    try:
        server.serve()
    except KeyboardInterrupt:
        click.echo("stopped")
    except OSError as exc:
        # Only binding the port raises here: the build loop catches what a build raises.
        # A name that does not resolve is the host's fault (socket.gaierror), not the port's.
        option = f"--host {host}" if isinstance(exc, socket.gaierror) else f"--port {port}"
        raise PortfolioError(f"{option}: cannot serve on {host}:{port} ({exc.strerror})") from None
    finally:
        observer.stop()
        server.shutdown()
        observer.join()

