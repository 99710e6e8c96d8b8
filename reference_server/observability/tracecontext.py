"""W3C Trace Context: accept ``traceparent``, keep it per request, pass it on to the LLM call.

The current request's context lives in a ``ContextVar``, so logs and the LLM client read
it without it being threaded through every call.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class TraceContext:
    """A trace id shared by every hop, this hop's span id and the sampled flag."""

    trace_id: str
    span_id: str
    sampled: bool = True

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def child(self) -> TraceContext:
        """A new span in the same trace (what an outgoing call carries)."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.sampled)


def new_trace() -> TraceContext:
    """A fresh trace (no valid ``traceparent`` came in)."""
    return TraceContext(secrets.token_hex(16), secrets.token_hex(8))


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The context in a ``traceparent`` header, or None when it is missing or invalid."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & 1))


def continue_trace(traceparent: str | None) -> TraceContext:
    """This server's span: a child of the caller's trace, or a new trace."""
    parent = parse_traceparent(traceparent)
    return parent.child() if parent is not None else new_trace()


current_trace: ContextVar[TraceContext | None] = ContextVar("chatopt_trace", default=None)


def outgoing_headers() -> dict[str, str]:
    """``traceparent`` naming the current span as the parent of an outgoing call (empty outside one)."""
    trace = current_trace.get()
    return {"traceparent": trace.traceparent} if trace is not None else {}
