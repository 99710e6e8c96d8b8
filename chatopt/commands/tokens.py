"""``chatopt tokens``: exact offline token counts for text or a chat messages file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from chatopt import tokens as token_counter
from chatopt.errors import ChatoptError


def tokens(
    text: Annotated[str | None, typer.Argument(help="Text to count; read from stdin when omitted.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model whose tokenizer to use.")] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", "-e", help="o200k_base or cl100k_base (overrides --model).")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Count the text of this file.")] = None,
    chat: Annotated[
        Path | None,
        typer.Option("--chat", help="A JSON file with an OpenAI messages array (or {messages: [...]})."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON object instead of the number.")
    ] = False,
) -> None:
    """Count tokens exactly as OpenAI models do, offline.

    Examples:

      chatopt tokens "hello world" --model gpt-4o

      cat prompt.txt | chatopt tokens

      chatopt tokens --chat messages.json --json
    """
    sources = [
        name for name, value in (("TEXT", text), ("--file", file), ("--chat", chat)) if value is not None
    ]
    if len(sources) > 1:
        raise ChatoptError(f"give one input, not {' and '.join(sources)}")
    choice = token_counter.encoding_for_model(model)
    encoding_name = encoding or choice.encoding
    if chat is not None:
        messages = _read_messages(chat)
        count = token_counter.count_messages(messages, encoding=encoding_name)
    else:
        if file is not None:
            content = _read_file(file)
        elif text is not None:
            content = text
        else:
            if sys.stdin.isatty():
                raise ChatoptError("no text given", hint="pass TEXT, --file, --chat, or pipe text on stdin")
            content = sys.stdin.read()
        count = token_counter.count_text(content, encoding=encoding_name)
    if choice.is_fallback and encoding is None:
        Console(stderr=True).print(
            f"[yellow]unknown model {model!r}: counted with {encoding_name}[/yellow]", highlight=False
        )
    if as_json:
        typer.echo(json.dumps({"tokens": count, "encoding": encoding_name, "model": model}))
    else:
        typer.echo(str(count))


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChatoptError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ChatoptError(f"{path} is not UTF-8 text") from exc


def _read_messages(path: Path) -> list[dict]:
    try:
        data = json.loads(_read_file(path))
    except json.JSONDecodeError as exc:
        raise ChatoptError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data = data["messages"]
    if not isinstance(data, list):
        raise ChatoptError(
            f"{path} must hold a messages array", hint='e.g. [{"role": "user", "content": "hi"}]'
        )
    return data
