"""Database URLs and pooled engines for the two execution modes of the history store.

``database_url`` may name any driver (``sqlite:///f.db``, ``postgresql://...``); the
async store runs it on aiosqlite / asyncpg, the blocking baseline on the stdlib
sqlite3 module / psycopg.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: How long SQLite waits for another writer (another worker process) before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_SYNC_DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}


def _backend(url: URL) -> str:
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(
            f"unsupported database URL {url.render_as_string()!r}: use sqlite:/// or postgresql://"
        )
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        # Each pooled connection would get a database of its own: history would vanish.
        raise ValueError("in-memory SQLite cannot hold the history; give a file, e.g. sqlite:///chat.db")
    return backend


def _parse(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except ArgumentError as error:
        raise ValueError(
            f"unsupported database URL {database_url!r}: use sqlite:/// or postgresql://"
        ) from error


def async_url(database_url: str) -> URL:
    """``database_url`` with its async driver (aiosqlite / asyncpg); ValueError for other databases."""
    url = _parse(database_url)
    return url.set(drivername=_ASYNC_DRIVERS[_backend(url)])


def blocking_url(database_url: str) -> URL:
    """``database_url`` with its blocking driver (sqlite3 / psycopg); ValueError for other databases."""
    url = _parse(database_url)
    return url.set(drivername=_SYNC_DRIVERS[_backend(url)])


def _engine_options(url: URL, pool_size: int) -> dict[str, Any]:
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": pool_size, "max_overflow": pool_size}
    if url.get_backend_name() == "postgresql":
        options["pool_recycle"] = 1800
    return options


def _tune_sqlite(engine: Engine) -> None:
    """WAL (readers never wait for the writer), durable commits, and waiting for other writers."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


def create_async(database_url: str, pool_size: int = 10) -> AsyncEngine:
    """A pooled async engine (pre-ping replaces connections a database restart killed)."""
    url = async_url(database_url)
    engine = create_async_engine(url, **_engine_options(url, pool_size))
    if url.get_backend_name() == "sqlite":
        _tune_sqlite(engine.sync_engine)
    return engine


def create_blocking(database_url: str, pool_size: int = 10) -> Engine:
    """A pooled blocking engine, for the baseline store."""
    url = blocking_url(database_url)
    engine = create_engine(url, **_engine_options(url, pool_size))
    if url.get_backend_name() == "sqlite":
        _tune_sqlite(engine)
    return engine
