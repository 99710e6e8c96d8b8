"""The mock LLM behind a per-model fault injector: bad answers and errors for chosen models only."""

from __future__ import annotations

import json
import threading
import time

import uvicorn

from chatopt.mockllm import FAULT_HEADER, MockConfig, create_app
from chatopt.mockllm.server import bind_socket, uvicorn_config

TIER_MODELS = {"small": "small", "medium": "medium", "large": "large"}


class PerModelFaults:
    """ASGI wrapper: adds the mock's fault header to requests for the models in ``faults``."""

    def __init__(self, app) -> None:
        self.app = app
        self.faults: dict[str, str] = {}
        self.requests: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        model = json.loads(body).get("model") if body.startswith(b"{") else None
        headers = list(scope["headers"])
        if model is not None:
            self.requests.append(model)
            if model in self.faults:
                headers.append((FAULT_HEADER.encode(), self.faults[model].encode()))
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app({**scope, "headers": headers}, replay, send)


class FaultyMock:
    """The mock LLM served from a thread, with per-model faults the test sets."""

    def __init__(self) -> None:
        config = MockConfig.fast(models=TIER_MODELS)
        self.injector = PerModelFaults(create_app(config))
        self._socket = bind_socket("127.0.0.1", 0)
        self._server = uvicorn.Server(uvicorn_config(self.injector))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the mock LLM did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(10)
        self._socket.close()
