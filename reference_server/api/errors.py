"""Every failure as ``{"error": {"code", "message"}}`` JSON with the right status, never an HTML page."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reference_server.errors import ApiError

logger = logging.getLogger("reference_server.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if exc.status_code not in (404, 405) else (
        f"no route {request.method} {request.url.path}" if exc.status_code == 404
        else f"{request.method} is not allowed on {request.url.path}"
    )
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "the server failed unexpectedly; the error was logged")


EXCEPTION_HANDLERS = {ApiError: api_error, HTTPException: http_error, Exception: unexpected_error}
