"""Load shedding: over 80% of capacity new requests get 503 + Retry-After; health stays reachable."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from reference_server.security.shedding import LoadShedder, LoadSheddingMiddleware


async def test_requests_over_the_threshold_are_shed_and_slots_come_back():
    gate = asyncio.Event()

    async def slow(_):
        await gate.wait()
        return PlainTextResponse("done")

    async def health(_):
        return PlainTextResponse("ok")

    shedder = LoadShedder(capacity=10, shed_at_fraction=0.8)
    app = LoadSheddingMiddleware(Starlette(routes=[Route("/slow", slow), Route("/healthz", health)]), shedder)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        held = [asyncio.create_task(client.get("/slow")) for _ in range(8)]
        for _ in range(200):
            if shedder.inflight == 8:
                break
            await asyncio.sleep(0.01)
        assert shedder.inflight == 8
        shed = await client.get("/slow")
        health = await client.get("/healthz")
        gate.set()
        finished = await asyncio.gather(*held)
        after = await client.get("/slow")
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
    assert "80%" in shed.json()["error"]["message"]
    assert health.status_code == 200
    assert all(r.status_code == 200 for r in finished) and after.status_code == 200
    assert shedder.inflight == 0 and shedder.shed_total == 1


def test_shedder_rejects_nonsense_capacity():
    with pytest.raises(ValueError, match="capacity"):
        LoadShedder(capacity=0)
