"""Upstream failures the tap injects on purpose, to see how a backend copes.

A fault replaces (``status``) or delays (``delay_s``) the next ``count`` AI calls
whose path contains ``path``. The audit's error-handling check uses this; nothing
is injected unless a fault was armed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """One armed fault: answer ``status`` without calling upstream, or wait ``delay_s`` first."""

    count: int = 1
    status: int | None = None
    delay_s: float = 0.0
    path: str = "/chat/completions"

    @property
    def label(self) -> str:
        return f"status {self.status}" if self.status is not None else f"delay {self.delay_s:g}s"

    def error_body(self) -> bytes:
        """An OpenAI-shaped error body, as a provider outage would send."""
        payload = {
            "error": {
                "message": f"injected by chatopt tap: upstream {self.label}",
                "type": "server_error" if (self.status or 500) >= 500 else "rate_limit_error",
                "code": None,
            }
        }
        return json.dumps(payload).encode()


class FaultPlan:
    """A thread-safe queue of faults; the proxy takes one per matching call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> None:
        """Apply ``fault`` to the next ``fault.count`` matching calls."""
        if fault.count < 1:
            raise ValueError("a fault must apply to at least one call")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str) -> Fault | None:
        """The fault for a call to ``path``, if one is armed (consumes one use)."""
        with self._lock:
            for fault in self._faults:
                if fault.path in path:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def parse_fault(spec: str) -> Fault:
    """Parse ``500``, ``500x3``, ``delay=35`` or ``delay=35x2`` into a :class:`Fault`."""
    text, _, times = spec.partition("x")
    try:
        count = int(times) if times else 1
        if text.startswith("delay="):
            return Fault(count=count, delay_s=float(text.removeprefix("delay=")))
        return Fault(count=count, status=int(text))
    except ValueError as exc:
        raise ValueError(f"cannot read fault {spec!r}: use 500, 503x3, delay=35 or delay=35x2") from exc
