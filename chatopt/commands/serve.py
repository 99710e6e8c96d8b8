"""``chatopt serve``: run the reference server (baseline or optimized) under uvicorn."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from chatopt.config import load_settings
from chatopt.errors import ChatoptError
from reference_server.settings import DEV_SECRET, SWITCHES, ServerSettings, settings_for_profile

PROFILES = ("baseline", "optimized")


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["streaming=false", "stream_chunk_tokens=20"]`` as a dict; a clear error for bad pairs."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ChatoptError(
                f"bad --set {pair!r}", hint="write --set name=value, e.g. --set streaming=false"
            )
        overrides[name.strip()] = value.strip()
    return overrides


def build_settings(profile: str, overrides: dict[str, Any]) -> ServerSettings:
    """The profile's settings with overrides applied, or a ChatoptError naming the bad setting."""
    if profile not in PROFILES:
        raise ChatoptError(f"unknown profile {profile!r}", hint="choose baseline or optimized")
    try:
        return settings_for_profile(profile, **overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            name = ".".join(str(part) for part in first["loc"])
            raise ChatoptError(
                f"bad value for setting {name!r}: {first['msg']}", hint=f"check --set {name}=..."
            ) from exc
        known = ", ".join(SWITCHES)
        raise ChatoptError(str(exc), hint=f"switches: {known}; see reference_server/settings.py") from exc


def serve(
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="baseline (the 'before') or optimized.")
    ] = "optimized",
    host: Annotated[str | None, typer.Option("--host", help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    llm_base_url: Annotated[
        str | None,
        typer.Option(
            "--llm-base-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:9100/v1 (mock LLM)."
        ),
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Redis for hot tier, cache, limits.")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="SQLAlchemy URL: postgresql+asyncpg://... (default: a SQLite file)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="uvicorn worker processes.")] = 1,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override one setting: --set streaming=false --set stream_chunk_tokens=20."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Run the bundled reference chat server, where every optimization is a switch.

    --profile baseline is the honest "before" (answers only when complete, full history
    every call, blocking DB writes); optimized turns every fix on. Flip one fix alone
    with --set name=value (switches: cache, streaming, routing, context_window,
    async_io, tiered_storage, monitoring, websocket, rate_limits, input_validation,
    resilience).

    Example: chatopt serve --profile optimized --set streaming=false --llm-base-url http://127.0.0.1:9100/v1

    Then open http://HOST:PORT/ and paste a token from `chatopt token --user you`.
    """
    import uvicorn

    if workers < 1:
        raise ChatoptError(f"--workers must be at least 1, not {workers}")
    if not 0 < port < 65536:
        raise ChatoptError(f"port {port} is out of range", hint="use 1-65535")
    user = load_settings(llm_base_url=llm_base_url, redis_url=redis_url, database_url=database_url, host=host)
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "llm_base_url": user.llm_base_url,
            "llm_api_key": user.llm_api_key,
            "redis_url": user.redis_url,
            "database_url": user.database_url,
            "secret": user.secret,
        }.items()
        if value is not None
    }
    overrides.update(parse_overrides(set_ or []))
    settings = build_settings(profile, overrides)
    console = Console(stderr=True)
    _print_banner(console, settings, user.host, port, workers)
    if settings.secret == DEV_SECRET:
        console.print(
            "[yellow]warning: using the development secret; set CHATOPT_SECRET in production[/yellow]"
        )
    if workers == 1:
        from reference_server.app import create_app

        uvicorn.run(create_app(settings), host=user.host, port=port, log_level=log_level)
        return
    from reference_server.app import SETTINGS_ENV

    os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump(mode="json"))
    uvicorn.run(
        "reference_server.app:app_from_environment",
        factory=True,
        host=user.host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


def _print_banner(console: Console, settings: ServerSettings, host: str, port: int, workers: int) -> None:
    table = Table(title=f"reference server · profile {settings.profile}", show_header=False, box=None)
    table.add_row("url", f"http://{host}:{port}/  ({workers} worker{'s' if workers > 1 else ''})")
    table.add_row("llm", settings.llm_base_url)
    table.add_row("database", settings.database_url)
    table.add_row("redis", settings.redis_url or "none (in-process state)")
    table.add_row("switches on", ", ".join(name for name in SWITCHES if getattr(settings, name)) or "none")
    console.print(table)
