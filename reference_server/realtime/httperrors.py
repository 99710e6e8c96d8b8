"""The JSON error answers of the realtime HTTP endpoints, shaped like the rest of the API."""

from __future__ import annotations

import math

from starlette.responses import JSONResponse


def error_response(status: int, code: str, message: str, retry_after_s: float | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": {"code", "message", "retry_after_s"?}}`` with ``Retry-After`` when given."""
    body: dict[str, object] = {"code": code, "message": message}
    all_headers = dict(headers or {})
    if retry_after_s is not None:
        body["retry_after_s"] = round(retry_after_s, 3)
        all_headers.setdefault("Retry-After", str(max(1, math.ceil(retry_after_s))))
    return JSONResponse({"error": body}, status_code=status, headers=all_headers)
