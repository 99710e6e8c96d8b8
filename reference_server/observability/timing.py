"""``Server-Timing`` per hop (cache, db, llm): each hop adds its duration to the request's timings.

Components report with ``record_hop("db", seconds)`` (or are timed in place by
``observability.hops.time_hop``); the observability middleware puts the sums in the
``Server-Timing`` response header. A streamed answer sends its headers first, so there the
header covers the hops finished before the first byte.
"""

from __future__ import annotations

from contextvars import ContextVar


class ServerTimings:
    """Milliseconds per hop for one request, in the order hops first ran."""

    def __init__(self) -> None:
        self.durations_ms: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.durations_ms[name] = self.durations_ms.get(name, 0.0) + seconds * 1000

    def header(self, total_s: float | None = None) -> str:
        """The ``Server-Timing`` value, e.g. ``cache;dur=0.4, db;dur=3.1, total;dur=812.0``."""
        parts = [f"{name};dur={ms:.1f}" for name, ms in self.durations_ms.items()]
        if total_s is not None:
            parts.append(f"total;dur={total_s * 1000:.1f}")
        return ", ".join(parts)


current_timings: ContextVar[ServerTimings | None] = ContextVar("chatopt_server_timings", default=None)


def record_hop(name: str, seconds: float) -> None:
    """Add ``seconds`` to hop ``name`` of the current request (no-op outside a request)."""
    timings = current_timings.get()
    if timings is not None:
        timings.add(name, seconds)
