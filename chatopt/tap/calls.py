"""One recorded AI call and the JSONL trace file that holds them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from chatopt.errors import ChatoptError


@dataclass
class AICall:
    """Everything the tap learned about one request the backend made to its AI provider.

    Times are wall-clock epoch seconds (``started_at``) and milliseconds since then, so
    a trace can be lined up with client-side timings of the same turn.
    """

    id: int
    started_at: float
    method: str
    path: str
    kind: str  # "chat", "embeddings" or "other"
    status: int
    model: str | None = None
    stream: bool | None = None
    message_count: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_prompt_tokens: int | None = None
    usage_completion_tokens: int | None = None
    last_user_message: str | None = None
    conversation: str | None = None
    turn: int | None = None
    history_messages: int | None = None
    full_history: bool | None = None
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    request_bytes: int = 0
    response_bytes: int = 0
    chunks: int = 0
    fault: str | None = None
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> AICall:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def read_trace(path: Path) -> list[AICall]:
    """Load the calls of a JSONL trace written by ``chatopt tap``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ChatoptError(
            f"cannot read trace {path}: {exc.strerror}", hint="pass the --trace file of chatopt tap"
        ) from exc
    calls = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            calls.append(AICall.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ChatoptError(f"{path}:{number} is not a chatopt tap record: {exc}") from exc
    return calls
