"""Three small chat backends in other styles than the reference server, for auditing.

- ``passthrough_app``: an OpenAI-compatible proxy endpoint (the client sends the history).
- ``json_history_app``: custom JSON, no streaming, history kept server-side, a synchronous
  OpenAI client inside an async handler (it blocks the event loop), no limits at all.
- ``ndjson_app``: custom NDJSON streaming, client-sent history windowed to 3 exchanges,
  an exact-match answer cache, rate-limit headers, input limits, a friendly fallback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid

import httpx
import openai
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from chatopt.targets import Target


async def _root(request: Request) -> Response:
    return PlainTextResponse("ok")


def passthrough_app(llm_base_url: str) -> Starlette:
    """``POST /v1/chat/completions`` forwarded as is to the LLM, streamed back."""
    client = httpx.AsyncClient(timeout=30)

    async def completions(request: Request) -> Response:
        body = await request.body()
        upstream = client.build_request(
            "POST",
            llm_base_url + "/chat/completions",
            content=body,
            headers={"content-type": "application/json", "authorization": "Bearer x"},
        )
        response = await client.send(upstream, stream=True)

        async def relay():
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()

        return StreamingResponse(
            relay(), status_code=response.status_code, media_type=response.headers.get("content-type")
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        await client.aclose()

    return Starlette(
        routes=[Route("/", _root), Route("/v1/chat/completions", completions, methods=["POST"])],
        lifespan=lifespan,
    )


def json_history_app(llm_base_url: str, model: str = "gpt-4") -> Starlette:
    """``POST /chat {"text", "session"}`` -> ``{"reply", "session"}``; the naive way."""
    client = openai.OpenAI(base_url=llm_base_url, api_key="x", max_retries=0)
    sessions: dict[str, list[dict[str, str]]] = {}

    async def chat(request: Request) -> Response:
        payload = json.loads(await request.body())
        session = payload.get("session") or uuid.uuid4().hex
        history = sessions.setdefault(session, [{"role": "system", "content": "You are a support bot."}])
        history.append({"role": "user", "content": payload["text"]})
        completion = client.chat.completions.create(model=model, messages=history)  # blocks the loop
        reply = completion.choices[0].message.content
        history.append({"role": "assistant", "content": reply})
        return JSONResponse({"reply": reply, "session": session})

    return Starlette(routes=[Route("/", _root), Route("/chat", chat, methods=["POST"])])


JSON_HISTORY_TARGET = Target(
    name="custom-json",
    path="/chat",
    body={"text": "{message}", "session": "{conversation_id}"},
    mode="json",
    history="server",
    answer_path="reply",
    conversation_id_path="session",
    usage_path=None,
)


def ndjson_app(llm_base_url: str) -> Starlette:
    """``POST /stream {"messages": [...]}`` -> NDJSON ``{"delta": ...}`` lines then ``{"done": true}``."""
    client = openai.AsyncOpenAI(base_url=llm_base_url, api_key="x", max_retries=1, timeout=10)
    cache: dict[str, str] = {}
    limit_headers = {"RateLimit-Policy": '"user";q=100;w=3600', "x-request-id": "req"}

    def refuse(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status, headers=limit_headers)

    async def stream(request: Request) -> Response:
        body = await request.body()
        if len(body) > 64 * 1024:
            return refuse(413, "body over 64 KiB")
        try:
            messages = json.loads(body)["messages"]
        except (ValueError, KeyError, TypeError):
            return refuse(400, "send JSON with a messages list")
        question = str(messages[-1].get("content", ""))
        if len(question) > 2000:
            return refuse(422, "message over 2000 characters")
        window = [{"role": "system", "content": "You are a support bot."}, *messages[-7:]]
        key = hashlib.sha256(
            json.dumps(window[-1:] if len(messages) == 1 else window).lower().encode()
        ).hexdigest()
        model = "gpt-4o-mini" if len(question) < 200 else "gpt-4o"

        async def lines():
            if key in cache:
                yield json.dumps({"delta": cache[key]}) + "\n"
            else:
                parts = []
                try:
                    response = await client.chat.completions.create(model=model, messages=window, stream=True)
                    async for chunk in response:
                        if chunk.choices and chunk.choices[0].delta.content:
                            parts.append(chunk.choices[0].delta.content)
                            yield json.dumps({"delta": chunk.choices[0].delta.content}) + "\n"
                    cache[key] = "".join(parts)
                except openai.OpenAIError:
                    yield json.dumps({"delta": "Sorry, the assistant is busy. Please try again."}) + "\n"
            yield json.dumps({"done": True}) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson", headers=limit_headers)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse("# TYPE chat_requests_total counter\nchat_requests_total 1\n")

    return Starlette(
        routes=[Route("/", _root), Route("/stream", stream, methods=["POST"]), Route("/metrics", metrics)]
    )


NDJSON_TARGET = Target(
    name="custom-ndjson",
    path="/stream",
    body={"messages": "{messages}"},
    mode="ndjson",
    history="client",
    delta_path="delta",
    usage_path=None,
    type_path=None,
    done_sentinel=None,
)
