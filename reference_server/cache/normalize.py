"""Query normalization for the exact cache layer (SPEC P2: lower case, trim, collapse duplicates).

Unicode-aware: text is NFC-composed first, so a decomposed "é" equals a composed one,
but accents are never stripped — in Portuguese "e" (and) / "é" (is) or "pais" (parents) /
"país" (country) are different words and must stay different keys.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# Three or more of the same letter ("pleeease") -> two; real words rarely triple a letter.
_LETTER_RUN = re.compile(r"([^\W\d_])\1{2,}")
# Repeated punctuation ("??", "!!!", "...") -> one.
_PUNCT_RUN = re.compile(r"([^\w\s])\1+")
# The same word twice in a row ("the the") -> once.
_REPEATED_WORD = re.compile(r"\b(\w+)(?:\s+\1\b)+")
# Punctuation at the edges carries no meaning for a lookup ("hello?" == "hello").
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")


def normalize_query(text: str) -> str:
    """The canonical form of a user query used for exact-match keys.

    >>> normalize_query("  What   is  the the CAPITAL of França??  ")
    'what is the capital of frança'
    """
    text = unicodedata.normalize("NFC", text).lower()
    text = _WHITESPACE.sub(" ", text).strip()
    text = _LETTER_RUN.sub(r"\1\1", text)
    text = _PUNCT_RUN.sub(r"\1", text)
    text = _REPEATED_WORD.sub(r"\1", text)
    return _EDGE_PUNCT.sub("", text)
