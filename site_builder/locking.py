"""One run or build at a time on a portfolio."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout

from .errors import PortfolioError, os_error_line
from .layout import Portfolio


@contextmanager
def portfolio_lock(portfolio: Portfolio, what: str) -> Iterator[None]:
    path = portfolio.state_dir / "lock"
    lock = FileLock(str(path))
    try:
        portfolio.state_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:
        raise PortfolioError(
            f"{portfolio.rel(path)}: the portfolio is busy (another 'portfolio run' or "
            f"'portfolio build' holds the lock); try again when it ends"
        ) from None
    except OSError as exc:  # a read-only portfolio (Timeout is an OSError too)
        raise PortfolioError(os_error_line(exc, portfolio.rel(path))) from None
    try:
        yield
    finally:
        lock.release()
