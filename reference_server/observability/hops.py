"""Time a service as a ``Server-Timing`` hop without touching its code: a proxy around its coroutines.

``timed(store, "db")`` returns an object that behaves like ``store`` and adds the time of
each awaited method call to the request's ``db`` hop.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any

from reference_server.observability.timing import record_hop


class TimedProxy:
    """Forwards every attribute to ``target``; coroutine methods are timed as hop ``hop``."""

    def __init__(self, target: Any, hop: str) -> None:
        self._target = target
        self._hop = hop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.iscoroutinefunction(value):
            return value

        @functools.wraps(value)
        async def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await value(*args, **kwargs)
            finally:
                record_hop(self._hop, time.perf_counter() - started)

        return timed_call


def timed(target: Any, hop: str) -> Any:
    """``target`` with its coroutine methods timed as ``hop``."""
    return TimedProxy(target, hop)
