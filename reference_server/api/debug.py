"""``GET /api/debug/loop-lag``: event-loop lag, background-queue and summary figures of this process."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse

from reference_server.api.identity import services_of


async def loop_lag(request: Request) -> JSONResponse:
    services = services_of(request)
    if request.query_params.get("reset") == "1":
        services.loop_lag.reset()
    return JSONResponse(
        {
            "profile": services.settings.profile,
            "loop_lag": asdict(services.loop_lag.snapshot()),
            "jobs": asdict(services.jobs.stats()),
            "summaries": asdict(services.summarizer.stats),
        }
    )
