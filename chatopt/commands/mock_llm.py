"""``chatopt mock-llm``: serve an OpenAI-compatible mock LLM with realistic latency and faults."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from chatopt.errors import ChatoptError
from chatopt.mockllm import MockConfig, load_config
from chatopt.mockllm.server import serve_forever


class LogLevel(StrEnum):
    """uvicorn's log levels."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def mock_llm(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 9100,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML file overriding tiers, model names, faults (see below)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of answers, jitter and fault draws.")
    ] = None,
    tokens_per_event: Annotated[
        int | None,
        typer.Option("--tokens-per-event", min=1, help="Tokens carried by each SSE event (default 1)."),
    ] = None,
    default_tier: Annotated[
        str | None, typer.Option("--default-tier", help="Tier for model names the config does not map.")
    ] = None,
    fast: Annotated[
        bool,
        typer.Option("--fast", help="Answer in milliseconds (5 ms TTFT, 5,000 tokens/s) for quick demos."),
    ] = False,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the effective config as YAML and exit.")
    ] = False,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="Server log level (info also logs every request).")
    ] = LogLevel.warning,
) -> None:
    """Serve an OpenAI-compatible LLM that costs nothing and behaves like a hosted one.

    Routes: POST /v1/chat/completions (stream or not, stream_options.include_usage,
    max_tokens), POST /v1/embeddings (real 384-d MiniLM vectors), GET /v1/models.
    Time to first token = base + prefill per prompt token (+ jitter), then a steady
    token rate, per tier: small 250 ms + 0.05 ms/token, 120 tok/s; medium 500 ms +
    0.1 ms/token, 70 tok/s; large 800 ms + 0.2 ms/token, 40 tok/s. gpt-4o-mini is
    small, gpt-4o medium, gpt-4 large; other names use --default-tier (medium).

    Faults for one request: header X-Mock-Fault: error=503, rate-limit=2, hang=5,
    slow-first-token=800, cut=10, bad-answer=refusal, or none. For a share of all
    requests, put rates in the config file, e.g.

      faults: {error_rate: 0.02, rate_limit_rate: 0.01, cut_rate: 0.01}

    Start a config of your own from the defaults with
    chatopt mock-llm --print-config > mock.yaml (keep only what you change).

    Example: chatopt mock-llm --port 9100, then point any OpenAI client at
    http://127.0.0.1:9100/v1 with any API key.
    """
    if not 0 <= port <= 65535:
        raise ChatoptError(f"port {port} is out of range", hint="use 1-65535 (0 picks a free one)")
    overrides: dict = {}
    if seed is not None:
        overrides["seed"] = seed
    if tokens_per_event is not None:
        overrides["tokens_per_event"] = tokens_per_event
    if default_tier is not None:
        overrides["default_tier"] = default_tier
    effective = _effective_config(config, overrides, fast)
    console = Console()
    if print_config:
        typer.echo(yaml.safe_dump(effective.model_dump(), sort_keys=False, allow_unicode=True), nl=False)
        return
    console.print(_tier_table(effective))
    console.print(
        f"mock LLM serving OpenAI API on [bold]http://{host}:{port}/v1[/bold] "
        f"(seed {effective.seed}, {effective.tokens_per_event} token(s)/event) — Ctrl-C to stop",
        highlight=False,
    )
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(effective, host=host, port=port, log_level=log_level.value)
    console.print("mock LLM stopped", highlight=False)


def _effective_config(path: Path | None, overrides: dict, fast: bool) -> MockConfig:
    base = load_config(path).model_dump() if path is not None else {}
    effective = load_config({**base, **overrides})
    return effective.with_fast_tiers() if fast else effective


def _tier_table(config: MockConfig) -> Table:
    table = Table(title="latency tiers", title_justify="left")
    table.add_column("tier")
    table.add_column("time to first token", justify="right")
    table.add_column("tokens/s", justify="right")
    table.add_column("$/1M in / out", justify="right")
    table.add_column("models (first few)")
    for name, tier in config.tiers.items():
        models = [model for model, tier_name in config.models.items() if tier_name == name]
        shown = ", ".join(models[:3]) + (", …" if len(models) > 3 else "")
        if name == config.default_tier:
            shown += " + any other name"
        jitter = f" ±{tier.jitter_ms:g}" if tier.jitter_ms else ""
        table.add_row(
            name,
            f"{tier.base_ms:g}{jitter} ms + {tier.prefill_ms_per_token:g} ms/token",
            f"{tier.tokens_per_second:g}",
            f"{tier.input_usd_per_million:g} / {tier.output_usd_per_million:g}",
            shown,
        )
    return table
