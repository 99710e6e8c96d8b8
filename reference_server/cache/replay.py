"""Replay a cached answer as stream chunks, so a hit looks exactly like a live streamed answer."""

from __future__ import annotations

import re
from collections.abc import Iterator

_PIECE = re.compile(r"\S+\s*|\s+")


def replay_chunks(text: str, words_per_chunk: int) -> Iterator[str]:
    """``text`` in consecutive pieces of ``words_per_chunk`` words (whitespace kept, so they join back)."""
    pieces = _PIECE.findall(text)
    for start in range(0, len(pieces), max(1, words_per_chunk)):
        yield "".join(pieces[start : start + words_per_chunk])
