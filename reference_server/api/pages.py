"""The chat page and its assets: the same bytes in every profile."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse

from reference_server.api.identity import services_of

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


async def index(request: Request) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "profile": services_of(request).settings.profile})
