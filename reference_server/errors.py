"""The one refusal type of the server: an HTTP status, a stable code and a message that says what to fix.

Every layer (API parsing, the chat pipeline, limits) raises :class:`ApiError`; the
app renders it as ``{"error": {"code", "message"}}`` with its status and headers.
"""

from __future__ import annotations


class ApiError(Exception):
    """A request refused with ``status``; ``headers`` such as ``Retry-After`` go with it."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def as_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}
