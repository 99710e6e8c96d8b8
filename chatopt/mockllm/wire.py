"""The OpenAI wire format the mock speaks: chunks, completions, errors, model lists, embeddings."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

SYSTEM_FINGERPRINT = "fp_chatopt_mock"


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes, UTF-8 as is (what the real API sends)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(message: str, *, kind: str, code: str | None = None, param: str | None = None) -> bytes:
    """An OpenAI-shaped error: ``{"error": {"message", "type", "param", "code"}}``."""
    return dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The ``usage`` object of a chat completion."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class ChunkWriter:
    """Builds the SSE events of one streamed completion from pre-escaped content pieces."""

    def __init__(self, *, completion_id: str, created: int, model: str, include_usage: bool) -> None:
        head = (
            f'{{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
            f'"model":{json.dumps(model)},"system_fingerprint":"{SYSTEM_FINGERPRINT}",'
        ).encode()
        self._head = b"data: " + head
        self._usage_tail = b',"usage":null}\n\n' if include_usage else b"}\n\n"
        self._content_head = self._head + b'"choices":[{"index":0,"delta":{"content":'
        self._content_tail = b'},"logprobs":null,"finish_reason":null}]' + self._usage_tail

    def role(self) -> bytes:
        """The opening event: the assistant role with empty content."""
        return (
            self._head + b'"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
            b'"logprobs":null,"finish_reason":null}]' + self._usage_tail
        )

    def content(self, piece: bytes) -> bytes:
        """One content event; ``piece`` is the JSON string literal of the text."""
        return self._content_head + piece + self._content_tail

    def finish(self, reason: str) -> bytes:
        """The event carrying ``finish_reason`` with an empty delta."""
        return (
            self._head
            + b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"'
            + reason.encode()
            + b'"}]'
            + self._usage_tail
        )

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The final usage event (``stream_options.include_usage``): no choices, exact counts."""
        return (
            self._head + b'"choices":[],"usage":' + dumps(usage(prompt_tokens, completion_tokens)) + b"}\n\n"
        )

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"


def completion_body(
    *,
    completion_id: str,
    created: int,
    model: str,
    text: str,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> bytes:
    """A non-streamed ``chat.completion`` object."""
    return dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage(prompt_tokens, completion_tokens),
            "service_tier": "default",
        }
    )


def model_entry(name: str, created: int) -> dict[str, Any]:
    """One entry of ``GET /v1/models``."""
    return {"id": name, "object": "model", "created": created, "owned_by": "chatopt-mock"}


def embeddings_body(vectors: np.ndarray, *, model: str, encoding_format: str, prompt_tokens: int) -> bytes:
    """An ``embedding`` list; ``base64`` packs float32 little-endian as the OpenAI client expects."""
    data = []
    for index, vector in enumerate(vectors):
        if encoding_format == "base64":
            value: Any = base64.b64encode(vector.astype("<f4").tobytes()).decode()
        else:
            value = [float(x) for x in vector]
        data.append({"object": "embedding", "index": index, "embedding": value})
    return dumps(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )
