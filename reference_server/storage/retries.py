"""Riding out database blips: a dropped connection or a restarting server is retried.

Only errors that say "the connection or server went away" (or SQLite's "database is
locked") are retried, with exponential backoff until a deadline; a constraint
violation or a bug fails at once. Writes are safe to retry because message inserts
skip ids that are already stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

T = TypeVar("T")

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 1.0


#: SQLSTATE classes worth retrying: connection exceptions, a server shutting down or
#: starting up (57P01-57P03), and a transaction the server rolled back (serialization, deadlock).
TRANSIENT_SQLSTATE_PREFIXES = ("08", "57P", "40001", "40P01")


def is_transient(error: BaseException) -> bool:
    """True for a lost connection, an unreachable or restarting server, or a locked SQLite file."""
    if isinstance(error, OperationalError | InterfaceError | ConnectionError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return error.connection_invalidated or sqlstate.startswith(TRANSIENT_SQLSTATE_PREFIXES)


async def retry_async(operation: Callable[[], Awaitable[T]], window_s: float) -> T:
    """Await ``operation()``, retrying transient failures until ``window_s`` has passed."""
    deadline = time.monotonic() + window_s
    delay = FIRST_DELAY_S
    while True:
        try:
            return await operation()
        except Exception as error:
            if not is_transient(error) or time.monotonic() + delay > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)


def retry_blocking(operation: Callable[[], T], window_s: float) -> T:
    """Call ``operation()``, retrying transient failures until ``window_s`` has passed (blocks)."""
    deadline = time.monotonic() + window_s
    delay = FIRST_DELAY_S
    while True:
        try:
            return operation()
        except Exception as error:
            if not is_transient(error) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
