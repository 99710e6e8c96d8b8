"""HTML/XSS sanitization (nh3) for any text that is stored or shown: user messages and LLM answers.

Harmless formatting survives; scripts, event handlers, ``javascript:`` URLs and every
other tag are removed, and links get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import html

import nh3

SAFE_TAGS = frozenset({"b", "strong", "i", "em", "u", "s", "code", "pre", "br", "p", "ul", "ol", "li",
                       "blockquote", "a"})
SAFE_ATTRIBUTES = {"a": {"href", "title"}}
SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitize_html(text: str) -> str:
    """``text`` with everything that could run script removed (idempotent)."""
    return nh3.clean(
        text,
        tags=set(SAFE_TAGS),
        attributes={tag: set(attrs) for tag, attrs in SAFE_ATTRIBUTES.items()},
        url_schemes=set(SAFE_URL_SCHEMES),
        link_rel="noopener noreferrer",
    )


def sanitize_message(text: str) -> str:
    """A chat message as it is stored: unchanged when it holds no markup, else with markup made safe.

    Plain text such as ``1 < 2 & 3`` is kept as typed (it has no tag a browser would run);
    anything nh3 has to remove (tags, comments, event handlers) yields the cleaned HTML.
    """
    cleaned = sanitize_html(text)
    return text if html.unescape(cleaned) == text else cleaned
