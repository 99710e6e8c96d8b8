"""Opaque, tamper-evident pagination cursors.

A cursor is the keyset position of the last item a page returned, bound to what it
pages over (a conversation or a user), serialized as JSON, signed with HMAC-SHA256
and base64url-encoded. Anything the store did not issue raises ``InvalidCursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from reference_server.storage.base import InvalidCursor

_SIGNATURE_BYTES = 16


@dataclass(frozen=True)
class Position:
    """A keyset position: ordered by ``(at, tiebreak)`` within ``scope``."""

    kind: str
    scope: str
    at: datetime
    tiebreak: str | int


class CursorCodec:
    """Signs positions into cursors and verifies cursors back into positions."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"chatopt-cursor\x00" + secret.encode()).digest()

    def encode(self, position: Position) -> str:
        body = json.dumps(
            [position.kind, position.scope, position.at.isoformat(), position.tiebreak], separators=(",", ":")
        ).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def decode(self, cursor: str, kind: str, scope: str) -> Position:
        """The position inside ``cursor``; ``InvalidCursor`` unless issued here for ``kind``/``scope``."""
        try:
            body_part, signature_part = cursor.split(".", 1)
            body = _unb64(body_part)
            signature = _unb64(signature_part)
        except (ValueError, binascii.Error) as error:
            raise InvalidCursor("cursor is malformed; pass back a cursor this API returned") from error
        if not hmac.compare_digest(signature, self._sign(body)):
            raise InvalidCursor("cursor signature does not match; pass back a cursor this API returned")
        try:
            cursor_kind, cursor_scope, at, tiebreak = json.loads(body)
            position = Position(cursor_kind, cursor_scope, datetime.fromisoformat(at), tiebreak)
        except (ValueError, TypeError) as error:
            raise InvalidCursor("cursor is malformed; pass back a cursor this API returned") from error
        if position.kind != kind or position.scope != scope:
            raise InvalidCursor(
                "cursor belongs to a different listing; use the one returned for this listing"
            )
        return position

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
