"""An answer cut into the byte pieces its SSE events carry, computed once per answer.

A token may end in the middle of a UTF-8 character; its bytes wait for the next
token so that every event's ``content`` is valid text, as the real APIs do.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from functools import lru_cache

from chatopt import tokens as token_counter


@dataclass(frozen=True)
class AnswerEvents:
    """One answer, ready to stream: JSON-escaped content pieces and the token index each one ends at.

    ``finish_reason`` is ``"length"`` when ``max_tokens`` cut the answer short.
    """

    text: str
    completion_tokens: int
    finish_reason: str
    pieces: tuple[bytes, ...]
    last_token_index: tuple[int, ...]


@lru_cache(maxsize=2048)
def prepare_answer(
    text: str, *, encoding: str, tokens_per_event: int, max_tokens: int | None
) -> AnswerEvents:
    """Tokenize ``text`` (cut to ``max_tokens``) and group its tokens into events."""
    token_ids = token_counter.encode(text, encoding=encoding)
    finish_reason = "stop"
    if max_tokens is not None and len(token_ids) > max_tokens:
        token_ids = token_ids[:max_tokens]
        finish_reason = "length"
    token_bytes = token_counter.decode_each(token_ids, encoding=encoding)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces: list[bytes] = []
    last_index: list[int] = []
    pending = ""
    for index, raw in enumerate(token_bytes):
        pending += decoder.decode(raw, final=index == len(token_bytes) - 1)
        end_of_event = (index + 1) % tokens_per_event == 0 or index == len(token_bytes) - 1
        if end_of_event and pending:
            pieces.append(json.dumps(pending, ensure_ascii=False).encode())
            last_index.append(index)
            pending = ""
    streamed_text = "".join(json.loads(piece) for piece in pieces)
    return AnswerEvents(streamed_text, len(token_ids), finish_reason, tuple(pieces), tuple(last_index))
