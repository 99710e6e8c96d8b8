"""Bearer tokens: HMAC-SHA256 signed, carrying user id, tier and expiry (stdlib only).

A token is ``v1.<payload>.<signature>`` where the payload is base64url JSON
``{"sub": user, "tier": "free"|"premium", "exp": unix seconds}`` and the signature is
the base64url HMAC-SHA256 of ``v1.<payload>`` under the server secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal

Tier = Literal["free", "premium"]
TIERS: tuple[Tier, ...] = ("free", "premium")
TOKEN_VERSION = "v1"
DEFAULT_TTL_S = 30 * 24 * 3600
MAX_USER_ID_CHARS = 128


class InvalidToken(ValueError):
    """A token that is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class Identity:
    """Who is calling: the user id and the tier their limits come from."""

    user_id: str
    tier: Tier


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, signed_part: str) -> str:
    return _b64encode(hmac.new(secret.encode(), signed_part.encode(), hashlib.sha256).digest())


def issue_token(secret: str, user_id: str, tier: Tier = "free", ttl_s: float = DEFAULT_TTL_S,
                now: float | None = None) -> str:
    """A signed token for ``user_id`` valid for ``ttl_s`` seconds."""
    if not user_id or len(user_id) > MAX_USER_ID_CHARS:
        raise ValueError(f"user id must be 1-{MAX_USER_ID_CHARS} characters")
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    if ttl_s <= 0:
        raise ValueError("ttl must be positive")
    issued = time.time() if now is None else now
    payload = {"sub": user_id, "tier": tier, "exp": int(issued + ttl_s)}
    body = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
    signed_part = f"{TOKEN_VERSION}.{body}"
    return f"{signed_part}.{_sign(secret, signed_part)}"


def verify_token(secret: str, token: str, now: float | None = None) -> Identity:
    """The identity in ``token``; raises :class:`InvalidToken` saying what is wrong."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise InvalidToken("the bearer token is malformed; get one with `chatopt token --user U`")
    signed_part = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(secret, signed_part), parts[2]):
        raise InvalidToken("the bearer token's signature does not match this server's secret")
    try:
        payload = json.loads(_b64decode(parts[1]))
        user_id, tier, expires = payload["sub"], payload["tier"], payload["exp"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("the bearer token's payload is unreadable") from exc
    if not isinstance(user_id, str) or not user_id or tier not in TIERS or not isinstance(expires, int):
        raise InvalidToken("the bearer token's payload is unreadable")
    if expires <= (time.time() if now is None else now):
        raise InvalidToken("the bearer token has expired; issue a new one")
    return Identity(user_id=user_id, tier=tier)


def identity_from_header(secret: str, authorization: str | None) -> Identity:
    """The identity of an ``Authorization: Bearer <token>`` header value."""
    if not authorization:
        raise InvalidToken("missing Authorization header; send `Authorization: Bearer <token>`")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be `Bearer <token>`")
    return verify_token(secret, token.strip())
