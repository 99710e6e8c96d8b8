"""Cheap spam detection, run before any LLM call: repetition, link floods and keyboard-mash gibberish.

Pure string heuristics (microseconds per message), tuned to leave ordinary English and
Portuguese prose, code snippets and a link or two alone. Each verdict says which rule fired.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from reference_server.security.rejection import Rejection

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SAME_CHAR_RUN = re.compile(r"(.)\1{19,}", re.DOTALL)
_VOWELS = set("aeiouy")


@dataclass(frozen=True)
class SpamRules:
    """Thresholds of the heuristics (all configurable)."""

    max_links: int = 5
    max_link_fraction: float = 0.5
    min_words_for_repetition: int = 12
    max_top_word_fraction: float = 0.5
    max_repeated_line_fraction: float = 0.6
    min_words_for_gibberish: int = 6
    max_gibberish_fraction: float = 0.5


def _fold(word: str) -> str:
    """Lower case without accents (so Portuguese vowels count as vowels)."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


def _is_mash(word: str) -> bool:
    folded = _fold(word)
    if len(folded) < 5:
        return False
    vowels = sum(c in _VOWELS for c in folded)
    if vowels == 0 or vowels / len(folded) < 0.15:
        return True
    return re.search(r"[^aeiouy]{5,}", folded) is not None


def spam_reason(text: str, rules: SpamRules = SpamRules()) -> str | None:
    """Why ``text`` looks like spam, or None when it does not."""
    links = _URL.findall(text)
    tokens = text.split()
    if len(links) > rules.max_links:
        return f"it contains {len(links)} links (at most {rules.max_links} are allowed)"
    if len(links) >= 3 and len(links) / max(1, len(tokens)) > rules.max_link_fraction:
        return "it is mostly links"
    if _SAME_CHAR_RUN.search(text):
        return "it repeats the same character over and over"
    words = [_fold(w) for w in _WORD.findall(_URL.sub(" ", text))]
    if len(words) >= rules.min_words_for_repetition:
        top, count = Counter(words).most_common(1)[0]
        if count / len(words) > rules.max_top_word_fraction:
            return f"it repeats the word {top!r} {count} times"
    lines = [line.strip().lower() for line in text.splitlines() if line.strip()]
    repeated_lines = Counter(lines).most_common(1)[0][1] / len(lines) if lines else 0.0
    if len(lines) >= 4 and repeated_lines > rules.max_repeated_line_fraction:
        return "it repeats the same line over and over"
    long_words = [w for w in words if len(w) >= 5]
    if len(long_words) >= rules.min_words_for_gibberish:
        mashed = sum(_is_mash(w) for w in long_words)
        if mashed / len(long_words) > rules.max_gibberish_fraction:
            return "it looks like random keyboard input"
    return None


def check_spam(text: str, rules: SpamRules = SpamRules()) -> None:
    """Raise a 422 ``Rejection`` naming the rule when ``text`` looks like spam."""
    reason = spam_reason(text, rules)
    if reason is not None:
        raise Rejection(422, "spam_detected", f"The message was not sent because {reason}.")
