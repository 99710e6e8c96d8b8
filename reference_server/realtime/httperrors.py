"""The JSON error answers of the realtime HTTP endpoints (same ``error`` shape as the WebSocket)."""

from __future__ import annotations

import math

from starlette.responses import JSONResponse

from reference_server.realtime.protocol import error_frame


def error_response(status: int, code: str, message: str, retry_after_s: float | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"type": "error", "code", "message", "retry_after_s"?}`` with ``Retry-After`` when given."""
    all_headers = dict(headers or {})
    if retry_after_s is not None:
        all_headers.setdefault("Retry-After", str(max(1, math.ceil(retry_after_s))))
    return JSONResponse(error_frame(code, message, retry_after_s), status_code=status, headers=all_headers)
