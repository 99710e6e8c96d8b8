"""``chatopt token``: print a signed bearer token for the reference server."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.console import Console

from chatopt.config import load_settings
from chatopt.errors import ChatoptError
from reference_server.auth import TIERS, issue_token
from reference_server.settings import DEV_SECRET

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds of ``90``, ``15m``, ``12h`` or ``30d``."""
    match = _DURATION.match(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise ChatoptError(f"bad --ttl {text!r}", hint="use seconds or a unit: 90, 15m, 12h, 30d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def token(
    user: Annotated[
        str, typer.Option("--user", "-u", help="User id the token identifies (1-128 characters).")
    ],
    tier: Annotated[
        str, typer.Option("--tier", "-t", help="free or premium: which rate limits apply.")
    ] = "free",
    ttl: Annotated[
        str, typer.Option("--ttl", help="How long the token is valid: 90, 15m, 12h, 30d.")
    ] = "30d",
) -> None:
    """Print a bearer token for the reference server (HMAC-SHA256 signed: user, tier, expiry).

    The secret is CHATOPT_SECRET (or `secret` in chatopt.toml); without one the
    development secret is used, which `chatopt serve` also uses by default.

    Example: curl -H "Authorization: Bearer $(chatopt token --user alice)" http://127.0.0.1:8000/api/conversations
    """
    if tier not in TIERS:
        raise ChatoptError(f"unknown tier {tier!r}", hint=f"choose one of: {', '.join(TIERS)}")
    secret = load_settings().secret or DEV_SECRET
    if secret == DEV_SECRET:
        Console(stderr=True).print(
            "[yellow]warning: signed with the development secret; set CHATOPT_SECRET in production[/yellow]",
            highlight=False,
        )
    try:
        typer.echo(issue_token(secret, user, tier, parse_duration(ttl)))  # type: ignore[arg-type]
    except ValueError as exc:
        raise ChatoptError(str(exc)) from exc
