"""The OpenAPI document, the chat page (same bytes in every profile), debug figures and ``chatopt serve``."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from starlette.routing import Route
from typer.testing import CliRunner

from chatopt.cli import app
from chatopt.errors import ChatoptError
from reference_server.api.openapi import build_document, document_paths, full_document
from reference_server.api.routes import ROUTES
from reference_server.app import create_app
from reference_server.settings import settings_for_profile
from tests.services import free_port


def test_openapi_documents_every_route_and_its_errors():
    document = build_document(settings_for_profile("optimized"))
    documented = set(document["paths"])
    routed = {route.path for route in ROUTES if getattr(route, "methods", None)}
    assert routed == documented
    app = create_app(settings_for_profile("optimized"))
    document_paths(app, {"/api/feedback": {"post": {"summary": "Rate an answer", "responses": {}}}})
    full = full_document(app, settings_for_profile("optimized"))
    for route in app.routes:
        if isinstance(route, Route):
            assert route.path in full["paths"], route.path
            for operation in full["paths"][route.path].values():
                declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                assert declared == set(route.param_convertors), route.path
    assert full["paths"]["/api/feedback"]["post"]["summary"] == "Rate an answer"
    chat = document["paths"]["/api/chat"]["post"]
    assert {"200", "400", "401", "404", "413", "422", "502"} <= set(chat["responses"])
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatRequest")
    limit = next(
        p for p in document["paths"]["/api/conversations"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == 50


async def test_page_and_assets_are_identical_across_profiles(start_server):
    servers = [start_server("baseline"), start_server("optimized")]
    bodies = []
    for server in servers:
        async with server.client() as client:
            page = await client.get("/")
            assets = [await client.get(f"/static/{name}") for name in ("chat.js", "transport.js", "chat.css")]
            spec = await client.get("/openapi.json")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert all(asset.status_code == 200 for asset in assets)
        assert spec.json()["openapi"].startswith("3.")
        bodies.append([page.content, *(asset.content for asset in assets)])
    assert bodies[0] == bodies[1]
    assert b"textContent" in bodies[0][1] and b"innerHTML" not in bodies[0][1]


async def test_debug_endpoint_reports_loop_lag_and_jobs(start_server):
    server = start_server("optimized")
    async with server.client() as client:
        figures = (await client.get("/api/debug/loop-lag")).json()
    assert figures["profile"] == "optimized"
    assert set(figures["loop_lag"]) == {"samples", "p50_ms", "p99_ms", "max_ms", "interval_ms"}
    assert figures["jobs"]["capacity"] > 0
    assert set(figures["summaries"]) == {"written", "prompt_tokens", "completion_tokens"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nope"], "bad --set"),
        (["--set", "warp_drive=true"], "unknown setting"),
        (["--set", "stream_chunk_tokens=many"], "stream_chunk_tokens"),
        (["--set", "stream_chunk_tokens=500"], "stream_chunk_tokens"),
        (["--profile", "turbo"], "unknown profile"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_serve_refuses_bad_options_with_one_clear_line(args, message):
    result = CliRunner().invoke(app, ["serve", *args])
    assert isinstance(result.exception, ChatoptError)
    assert message in str(result.exception)


@pytest.mark.slow
def test_serve_runs_the_server(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatopt",
            "serve",
            "--profile",
            "baseline",
            "--port",
            str(port),
            "--database-url",
            f"sqlite+aiosqlite:///{tmp_path}/serve.db",
            "--llm-base-url",
            "http://127.0.0.1:9/v1",
            "--set",
            "streaming=true",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        health = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None and health.json() == {"status": "ok", "profile": "baseline"}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert b"development secret" in stderr
