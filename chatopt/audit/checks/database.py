"""``db.history`` (``--database-url``): history tables, indexes on chat/user columns, sequential scans."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding, Impact
from chatopt.errors import ChatoptError

CHAT_COLUMNS = ("conversation_id", "chat_id", "thread_id", "session_id")
USER_COLUMNS = ("user_id", "owner_id", "account_id")
TIME_COLUMNS = ("created_at", "timestamp", "ts", "sent_at", "updated_at")
HISTORY_WORDS = ("message", "history", "chat", "conversation")


def async_url(url: str) -> str:
    """An SQLAlchemy async URL for a plain PostgreSQL or SQLite URL."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite:///")):
        return url
    raise ChatoptError(
        f"unsupported database URL {url.split('://')[0]}://...",
        hint="use postgresql://user@host/db or sqlite:///path.db",
    )


def _describe(connection: Any) -> list[dict]:
    inspector = inspect(connection)
    tables = []
    for name in inspector.get_table_names():
        columns = [column["name"] for column in inspector.get_columns(name)]
        chat = [c for c in columns if c in CHAT_COLUMNS]
        if not chat and not any(word in name.lower() for word in HISTORY_WORDS):
            continue
        leading = {index["column_names"][0] for index in inspector.get_indexes(name) if index["column_names"]}
        primary = inspector.get_pk_constraint(name).get("constrained_columns") or []
        leading |= set(primary[:1])
        for unique in inspector.get_unique_constraints(name):
            leading |= set(unique["column_names"][:1])
        wanted = [c for c in columns if c in CHAT_COLUMNS + USER_COLUMNS]
        tables.append(
            {
                "table": name,
                "columns": len(columns),
                "missing_indexes": [c for c in wanted if c not in leading],
                "time_column": next((c for c in columns if c in TIME_COLUMNS), None),
            }
        )
    return tables


class DatabaseCheck(Check):
    id = "db.history"
    spec_ref = "P7"
    summary = "With --database-url: history tables, missing indexes on chat/user columns, sequential scans."

    async def run(self) -> list[Finding]:
        url = self.session.options.database_url
        if not url:
            return [
                self.not_enough_data(
                    "pass --database-url to inspect the history tables",
                    "passe --database-url para inspecionar as tabelas de histórico",
                )
            ]
        engine = create_async_engine(async_url(url))
        try:
            async with engine.connect() as connection:
                tables = await connection.run_sync(_describe)
                scans = await self._scans(connection) if engine.dialect.name == "postgresql" else {}
        except ChatoptError:
            raise
        except Exception as exc:  # any driver error is reported, not raised
            return [
                self.not_enough_data(
                    f"cannot inspect the database: {type(exc).__name__}: {exc}",
                    f"não foi possível inspecionar o banco: {type(exc).__name__}: {exc}",
                )
            ]
        finally:
            await engine.dispose()
        for table in tables:
            table.update(scans.get(table["table"], {}))
        evidence = {"dialect": engine.dialect.name, "history_tables": tables}
        if not tables:
            return [
                self.not_enough_data(
                    "no table looks like chat history", "nenhuma tabela parece histórico", **evidence
                )
            ]
        missing = [t for t in tables if t["missing_indexes"]]
        scanned = [
            t for t in tables if t.get("seq_scan", 0) > t.get("idx_scan", 0) and t.get("rows", 0) > 1000
        ]
        if not (missing or scanned):
            return [
                self.finding(
                    "ok",
                    self.t("History tables are indexed", "Tabelas de histórico indexadas"),
                    evidence=evidence,
                    confidence="high",
                )
            ]
        names = ", ".join(f"{t['table']}({', '.join(t['missing_indexes'])})" for t in missing)
        return [
            self.finding(
                "problem",
                self.t("History queries lack indexes", "Consultas de histórico sem índice"),
                severity="high",
                evidence=evidence,
                cause=self.t(
                    f"no index leads with: {names or '-'}; tables read mostly by sequential scan: "
                    f"{', '.join(t['table'] for t in scanned) or '-'}",
                    f"nenhum índice começa por: {names or '-'}; tabelas lidas por varredura sequencial: "
                    f"{', '.join(t['table'] for t in scanned) or '-'}",
                ),
                impact=Impact(
                    summary=self.t(
                        "history loads grow with table size (1 s instead of 10 ms)",
                        "a carga do histórico cresce com a tabela (1 s em vez de 10 ms)",
                    )
                ),
                fix=self.t(
                    "compound indexes (chat_id, created_at) and (user_id, created_at); LIMIT 50 with cursor "
                    "pagination; hot history in Redis",
                    "índices compostos (chat_id, created_at) e (user_id, created_at); LIMIT 50 com paginação "
                    "por cursor; histórico quente no Redis",
                ),
                switch="tiered_storage",
                confidence="high",
            )
        ]

    @staticmethod
    async def _scans(connection: Any) -> dict[str, dict]:
        rows = await connection.execute(
            text("SELECT relname, seq_scan, COALESCE(idx_scan, 0), n_live_tup FROM pg_stat_user_tables")
        )
        return {name: {"seq_scan": seq, "idx_scan": idx, "rows": live} for name, seq, idx, live in rows}
