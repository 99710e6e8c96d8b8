"""Time a service as a ``Server-Timing`` hop without touching its code.

``time_hop(store, "db")`` replaces, on that one instance, each public coroutine method by a
wrapper adding the call's duration to the request's ``db`` hop. The object keeps its type,
so ``isinstance`` checks and attribute access behave exactly as before.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Coroutine
from typing import Any

from reference_server.observability.timing import record_hop

AsyncMethod = Callable[..., Coroutine[Any, Any, Any]]


def _timed(method: AsyncMethod, hop: str) -> AsyncMethod:
    @functools.wraps(method)
    async def timed_call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            record_hop(hop, time.perf_counter() - started)

    timed_call.__chatopt_hop__ = hop  # type: ignore[attr-defined]
    return timed_call


def time_hop(target: Any, hop: str, methods: tuple[str, ...] | None = None) -> Any:
    """Instrument ``target``'s coroutine methods (all public ones, or ``methods``) as hop ``hop``."""
    names = methods or tuple(name for name in dir(type(target)) if not name.startswith("_"))
    for name in names:
        method = getattr(target, name, None)
        if inspect.iscoroutinefunction(method) and not hasattr(method, "__chatopt_hop__"):
            setattr(target, name, _timed(method, hop))
    return target
