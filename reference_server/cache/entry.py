"""What the cache keeps for one answer, and its wire form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

TtlClass = Literal["faq", "dynamic"]


@dataclass(frozen=True)
class CachedAnswer:
    """A complete, validated assistant answer and what is needed to replay it."""

    text: str
    model: str
    query: str
    ttl_class: TtlClass
    created_at: float
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> CachedAnswer:
        return cls(**json.loads(raw))
