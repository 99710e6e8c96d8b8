"""docs/deploy: nginx and HAProxy, as shipped, in front of two instances sharing Redis."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests import services
from tests.realtime.harness import ScriptedRunner, recv, recv_stream, send, token_for
from tests.realtime.test_horizontal import two_instances
from tests.realtime.test_longpoll_sse import MESSAGES, auth
from tests.services import free_port, wait_for_port

pytestmark = pytest.mark.services
DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"


def rendered(name: str, listen: int, backends: tuple[str, str]) -> str:
    """The shipped config with this test's ports (and a descriptor budget this machine allows)."""
    text = (DEPLOY / name).read_text()
    text = text.replace("127.0.0.1:8001", backends[0]).replace("127.0.0.1:8002", backends[1])
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{listen}")
    return text.replace("maxconn 40000", "maxconn 2000")


@contextlib.contextmanager
def proxy(kind: str, backends: tuple[str, str], workdir: Path) -> Iterator[str]:
    binary = shutil.which(kind)
    package = "nginx-light" if kind == "nginx" else kind
    services.require(binary is not None, f"{kind} (apt-get install {package})")
    port = free_port()
    if kind == "nginx":
        config = workdir / "nginx.conf"
        config.write_text(rendered("nginx.conf", port, backends))
        command = [binary, "-c", str(config), "-p", f"{workdir}/", "-g", "daemon off;"]
    else:
        config = workdir / "haproxy.cfg"
        config.write_text(rendered("haproxy.cfg", port, backends))
        command = [binary, "-f", str(config), "-db"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port("127.0.0.1", port, timeout=10)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.asynccontextmanager
async def behind(kind: str, redis_url: str, prefix: str, workdir: Path) -> AsyncIterator[tuple]:
    runner = ScriptedRunner(chunks=5, delay_s=0.01)
    async with two_instances(redis_url, prefix, runner) as (a, host_a, b, host_b):
        with proxy(kind, (host_a, host_b), workdir) as front:
            if kind == "haproxy":
                await asyncio.sleep(0.5)  # first health checks
            yield a, b, front


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
async def test_websocket_upgrade_sse_and_sticky_sessions_through_the_proxy(
        kind: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    async with behind(kind, redis_url, redis_prefix, tmp_path) as (a, b, front):
        settings = a.settings
        async with websockets.connect(f"ws://{front}/ws?token={token_for(settings)}") as ws:
            await send(ws, "message", message="through the proxy")
            stream_id = (await recv(ws))["stream_id"]
            frames = await recv_stream(ws)
        async with httpx.AsyncClient(base_url=f"http://{front}") as client:
            landed = []
            for _ in range(4):
                started = await client.post(MESSAGES, headers=auth(settings), json={"message": "again"})
                assert started.status_code == 202, started.text
                landed.append(started.json()["stream_id"])
            sse = await client.get(f"/api/realtime/streams/{landed[0]}/events", headers=auth(settings))
    assert [f["type"] for f in frames] == ["token"] * 5 + ["final"] and frames[0]["stream_id"] == stream_id
    owners = {("a" if a.hub.local.get(s) else "b") for s in landed}
    assert len(owners) == 1, f"one client's requests were spread over instances {owners}"
    assert sse.status_code == 200 and sse.text.count("event: token") == 5
