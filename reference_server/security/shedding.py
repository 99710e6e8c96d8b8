"""Global load shedding: past a fraction of capacity, refuse new work fast instead of slowing everyone.

``LoadShedder`` counts in-flight requests; ``LoadSheddingMiddleware`` answers 503 with
``Retry-After`` once in-flight work reaches ``shed_at_fraction`` of ``capacity``. Health,
readiness and metrics stay reachable so operators can see why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class LoadShedder:
    """An in-flight counter with a shedding threshold (``capacity * shed_at_fraction``)."""

    def __init__(self, capacity: int, shed_at_fraction: float = 0.8, retry_after_s: int = 1) -> None:
        if capacity < 1 or not 0 < shed_at_fraction <= 1:
            raise ValueError("load shedding needs capacity >= 1 and 0 < shed_at_fraction <= 1")
        self.capacity = capacity
        self.threshold = max(1, int(capacity * shed_at_fraction))
        self.retry_after_s = retry_after_s
        self.inflight = 0
        self.shed_total = 0

    @property
    def utilization(self) -> float:
        """In-flight work as a fraction of capacity."""
        return self.inflight / self.capacity

    def try_acquire(self) -> bool:
        """Take a slot unless the threshold is reached (then count one shed request)."""
        if self.inflight >= self.threshold:
            self.shed_total += 1
            return False
        self.inflight += 1
        return True

    def release(self) -> None:
        """Give a slot back."""
        self.inflight = max(0, self.inflight - 1)


class LoadSheddingMiddleware:
    """ASGI middleware: 503 + ``Retry-After`` for HTTP requests over the shedding threshold."""

    def __init__(
        self, app: ASGIApp, shedder: LoadShedder, exempt_paths: Iterable[str] = DEFAULT_EXEMPT_PATHS
    ) -> None:
        self.app = app
        self.shedder = shedder
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        if not self.shedder.try_acquire():
            await _send_overloaded(send, self.shedder)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.shedder.release()


async def _send_overloaded(send: Send, shedder: LoadShedder) -> None:
    body = json.dumps({"error": {
        "code": "overloaded",
        "message": f"The server is at {shedder.utilization:.0%} of its capacity; retry in "
                   f"{shedder.retry_after_s} s.",
    }}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(shedder.retry_after_s).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
