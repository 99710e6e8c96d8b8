"""``/readyz`` (the instance's dependencies answer) and ``/metrics``.

Readiness runs every check concurrently, each bounded by ``timeout_s``; a failing check
makes ``/readyz`` answer 503 and name what is down, so a load balancer stops sending
traffic to an instance that cannot serve it. Liveness (``/healthz``, served by the API)
never touches dependencies, so a Redis outage does not get healthy processes restarted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_server.observability.metrics import CONTENT_TYPE, ServerMetrics

ReadinessCheck = Callable[[], Awaitable[object]]


async def _run_check(check: ReadinessCheck, timeout_s: float) -> str | None:
    """None when the check passes, else why it failed."""
    try:
        async with asyncio.timeout(timeout_s):
            outcome = await check()
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except Exception as exc:  # a readiness probe reports any failure instead of raising
        return f"{type(exc).__name__}: {exc}"[:200]
    return "check returned false" if outcome is False else None


async def readiness(checks: Mapping[str, ReadinessCheck], timeout_s: float = 1.0) -> dict[str, str | None]:
    """Each check's failure reason (None = ok), run concurrently."""
    names = list(checks)
    results = await asyncio.gather(*(_run_check(checks[name], timeout_s) for name in names))
    return dict(zip(names, results, strict=True))


def readiness_routes(
    checks: Mapping[str, ReadinessCheck],
    metrics: ServerMetrics | None = None,
    timeout_s: float = 1.0,
) -> list[Route]:
    """``/readyz`` running ``checks``, and ``/metrics`` when ``metrics`` is given."""

    async def readyz(_: Request) -> Response:
        results = await readiness(checks, timeout_s)
        failing = {name: reason for name, reason in results.items() if reason is not None}
        body = {"status": "not ready" if failing else "ready",
                "checks": {name: reason or "ok" for name, reason in results.items()}}
        return JSONResponse(body, status_code=503 if failing else 200)

    routes = [Route("/readyz", readyz, methods=["GET"])]
    if metrics is not None:

        async def metrics_endpoint(_: Request) -> Response:
            return Response(metrics.render(), media_type=CONTENT_TYPE)

        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    return routes
