"""A JSON chat backend that keeps 200 KB of every request forever: a real leak for soak tests.

Run: ``python -m tests.bench.leaky_server PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_kept: list[bytes] = []


async def chat(request: Request) -> JSONResponse:
    await request.body()
    _kept.append(bytes(200_000) + len(_kept).to_bytes(8, "little"))
    return JSONResponse({"reply": f"answer {len(_kept)}"})


app = Starlette(routes=[Route("/chat", chat, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
