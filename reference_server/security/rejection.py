"""Why a request was refused: status code, a stable reason code and a message saying what to fix."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(eq=False)
class Rejection(Exception):
    """A refusal the client sees as ``{"error": {"code": ..., "message": ...}}`` with ``status``."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON error body."""
        return {"error": {"code": self.code, "message": self.message}}
