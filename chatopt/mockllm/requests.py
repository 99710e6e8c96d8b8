"""What a valid request to the mock looks like, and the error that says what to fix.

Unparsable JSON is a 400; well-formed JSON with a missing or wrong field is a 422
naming the field (``param``); unknown models and paths are 404.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MAX_EMBEDDING_INPUTS = 2048


class RequestError(Exception):
    """A request the mock refuses, with the status and the OpenAI error fields to send."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat completion request the mock acts on."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool
    max_tokens: int | None
    seed: int | None


@dataclass(frozen=True)
class EmbeddingRequest:
    """Texts to embed (token-id inputs already decoded) and the response format."""

    model: str
    texts: list[str]
    encoding_format: str
    token_inputs: list[list[int]] | None


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says why not."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    return data


def _invalid(param: str, message: str) -> RequestError:
    return RequestError(422, message, param=param, code="invalid_value")


def _model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(
            422,
            "'model' is required: a model name such as 'gpt-4o-mini'.",
            param="model",
            code="missing_required_parameter",
        )
    return model


def _optional_int(data: dict[str, Any], name: str, minimum: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _invalid(name, f"'{name}' must be an integer of at least {minimum}, not {value!r}.")
    return value


def parse_chat_request(data: dict[str, Any]) -> ChatRequest:
    """Validate a ``/v1/chat/completions`` body."""
    model = _model(data)
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(
            422,
            "'messages' must be a non-empty array of {role, content} objects.",
            param="messages",
            code="missing_required_parameter",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
            raise _invalid(
                f"messages.[{index}].role",
                f"messages[{index}] needs a 'role', one of: {', '.join(sorted(CHAT_ROLES))}.",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _invalid(
                f"messages.[{index}].content",
                f"messages[{index}].content must be a string or an array of content parts.",
            )
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("stream", f"'stream' must be true or false, not {stream!r}.")
    stream_options = data.get("stream_options")
    if stream_options is not None:
        if not stream:
            raise _invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.")
        if not isinstance(stream_options, dict):
            raise _invalid(
                "stream_options", "'stream_options' must be an object like {\"include_usage\": true}."
            )
    n = data.get("n", 1)
    if n != 1:
        raise _invalid("n", f"the mock answers one choice per request; 'n' must be 1, not {n!r}.")
    max_tokens = _optional_int(data, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _optional_int(data, "max_tokens", 1)
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _invalid("seed", f"'seed' must be an integer, not {seed!r}.")
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=bool(stream_options and stream_options.get("include_usage")),
        max_tokens=max_tokens,
        seed=seed,
    )


def parse_embedding_request(data: dict[str, Any]) -> EmbeddingRequest:
    """Validate a ``/v1/embeddings`` body (a string, an array of strings, or token-id arrays)."""
    model = _model(data)
    raw = data.get("input")
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and raw:
        items = [raw] if all(isinstance(x, int) and not isinstance(x, bool) for x in raw) else raw
    else:
        raise RequestError(
            422,
            "'input' must be a string or a non-empty array of strings.",
            param="input",
            code="missing_required_parameter",
        )
    if len(items) > MAX_EMBEDDING_INPUTS:
        raise _invalid("input", f"at most {MAX_EMBEDDING_INPUTS} inputs per request, got {len(items)}.")
    texts: list[str] = []
    token_inputs: list[list[int]] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and item and all(isinstance(x, int) and x >= 0 for x in item):
            token_inputs.append(item)
            texts.append("")
        else:
            raise _invalid(f"input.[{index}]", f"input[{index}] must be a string or an array of token ids.")
    if token_inputs and len(token_inputs) != len(items):
        raise _invalid("input", "mix of strings and token arrays: send one kind per request.")
    encoding_format = data.get("encoding_format") or "float"
    if encoding_format not in ("float", "base64"):
        raise _invalid(
            "encoding_format", f"'encoding_format' must be 'float' or 'base64', not {encoding_format!r}."
        )
    dimensions = data.get("dimensions")
    if dimensions is not None and dimensions != 384:
        raise _invalid(
            "dimensions", f"the mock's embedding model has 384 dimensions; {dimensions!r} is not offered."
        )
    return EmbeddingRequest(model, texts, encoding_format, token_inputs or None)
