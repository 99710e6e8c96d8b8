"""The chatopt command line: parse options, call an engine, render its result.

Each command lives in ``chatopt/commands/<name>.py``; this module only wires
them into one Typer app and turns :class:`ChatoptError` into a one-line message.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from chatopt import __version__
from chatopt.commands.audit import audit
from chatopt.commands.bench import bench
from chatopt.commands.cache_eval import cache_eval
from chatopt.commands.compare import compare
from chatopt.commands.demo import demo
from chatopt.commands.gate import gate
from chatopt.commands.mock_llm import mock_llm
from chatopt.commands.profile import profile
from chatopt.commands.serve import serve
from chatopt.commands.soak import soak
from chatopt.commands.stress import stress
from chatopt.commands.tap import tap
from chatopt.commands.token import token
from chatopt.commands.tokens import tokens
from chatopt.errors import ChatoptError

app = typer.Typer(
    name="chatopt",
    help="Find and fix why AI chat backends lag: audit, load-test, gate releases, see every fix measured.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"chatopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """chatopt: diagnose, benchmark and fix AI chat backends."""


app.command("tokens")(tokens)
app.command("bench")(bench)
app.command("compare")(compare)
app.command("gate")(gate)
app.command("stress")(stress)
app.command("soak")(soak)
app.command("mock-llm")(mock_llm)
app.command("tap")(tap)
app.command("audit")(audit)
app.command("profile")(profile)
app.command("serve")(serve)
app.command("token")(token)
app.command("cache-eval")(cache_eval)
app.command("demo")(demo)


def main() -> None:
    """Console-script entry point: run the app, print user errors on one line."""
    try:
        app()
    except ChatoptError as exc:
        Console(stderr=True).print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
