"""Who is calling a realtime endpoint: the bearer token from the header or the ``token`` query.

Browsers cannot set headers on a WebSocket or an ``EventSource``, so the token may also
come as ``?token=...``; the ``Authorization`` header wins when both are present.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from reference_server.auth import Identity, InvalidToken, identity_from_header, verify_token


def identity_of(connection: HTTPConnection, secret: str) -> Identity:
    """The caller's identity; raises :class:`InvalidToken` saying what to send."""
    header = connection.headers.get("authorization")
    if header:
        return identity_from_header(secret, header)
    token = connection.query_params.get("token")
    if token:
        return verify_token(secret, token)
    raise InvalidToken("send `Authorization: Bearer <token>` or add `?token=<token>` to the URL")
