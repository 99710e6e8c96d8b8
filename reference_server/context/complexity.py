"""A fast (< 1 ms) guess whether a query needs more context: long, multi-step or code."""

from __future__ import annotations

import re

COMPLEX_MIN_CHARS = 400
_COMPLEX_WORDS = re.compile(
    r"\b(analy[sz]e|compare|contrast|explain why|step[- ]by[- ]step|prove|derive|design|architecture|"
    r"refactor|debug|trade-?offs?|in detail|earlier|previous|above|summari[sz]e|we discussed)\b",
    re.IGNORECASE,
)


def is_complex(query: str) -> bool:
    """True for long queries, code, or words that signal reasoning over the conversation."""
    return len(query) >= COMPLEX_MIN_CHARS or "```" in query or bool(_COMPLEX_WORDS.search(query))
