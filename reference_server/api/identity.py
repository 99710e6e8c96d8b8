"""Who is calling: the bearer token of a request, or a 401 that says how to get one."""

from __future__ import annotations

from starlette.requests import Request

from reference_server.auth import Identity, InvalidToken, identity_from_header
from reference_server.errors import ApiError
from reference_server.services import Services


def services_of(request: Request) -> Services:
    return request.app.state.services


def require_identity(request: Request) -> Identity:
    """The caller's identity; raises a 401 ``ApiError`` for a missing or bad token."""
    try:
        secret = services_of(request).settings.secret
        return identity_from_header(secret, request.headers.get("authorization"))
    except InvalidToken as exc:
        raise ApiError(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
