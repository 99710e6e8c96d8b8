"""Profanity filter: English and Portuguese block lists with an allow list for false positives.

Text is folded before matching (lower case, accents removed, common character swaps such
as ``f0da`` or ``$hit`` undone) and compared word by word, so ``Scunthorpe`` never trips
``cunt*``. Allow-list words and phrases (``putativo``, ``pão cacete``) are taken out first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from reference_server.security.rejection import Rejection

_SWAPS = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_TOKEN = re.compile(r"[a-z0-9@$]+")
LANGUAGES = {"en": "English", "pt": "Portuguese"}


def fold(text: str) -> list[str]:
    """The words of ``text`` as the filter sees them (lower case, no accents, swaps undone)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return [token.translate(_SWAPS) for token in _TOKEN.findall(plain)]


@dataclass(frozen=True)
class BlockList:
    """Whole words and word prefixes (``fuck*``) of one language."""

    language: str
    words: frozenset[str]
    prefixes: tuple[str, ...]

    def matches(self, word: str) -> bool:
        return word in self.words or word.startswith(self.prefixes)


def _entries(name: str) -> list[str]:
    text = resources.files("reference_server.security").joinpath("wordlists", name).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def default_block_lists() -> tuple[BlockList, ...]:
    """The shipped English and Portuguese block lists."""
    lists = []
    for code in LANGUAGES:
        entries = [" ".join(fold(e.rstrip("*"))) + ("*" if e.endswith("*") else "") for e in
                   _entries(f"profanity_{code}.txt")]
        lists.append(BlockList(
            language=code,
            words=frozenset(e for e in entries if not e.endswith("*")),
            prefixes=tuple(e[:-1] for e in entries if e.endswith("*")),
        ))
    return tuple(lists)


@lru_cache(maxsize=1)
def default_allow_list() -> tuple[tuple[str, ...], ...]:
    """The shipped allow list, each entry as folded words."""
    return tuple(tuple(fold(entry)) for entry in _entries("allow.txt"))


@dataclass(frozen=True)
class ProfanityHit:
    """The first blocked word found and the language list it is on."""

    word: str
    language: str

    @property
    def masked(self) -> str:
        return self.word[0] + "*" * (len(self.word) - 1)


class ProfanityFilter:
    """Find blocked words outside allow-listed words and phrases."""

    def __init__(
        self,
        block_lists: tuple[BlockList, ...] | None = None,
        allow: tuple[tuple[str, ...], ...] | None = None,
    ) -> None:
        self.block_lists = default_block_lists() if block_lists is None else block_lists
        self.allow = default_allow_list() if allow is None else allow

    def find(self, text: str) -> ProfanityHit | None:
        """The first blocked word of ``text`` that no allow entry covers, or None."""
        words = fold(text)
        allowed = [False] * len(words)
        for phrase in self.allow:
            n = len(phrase)
            for start in range(len(words) - n + 1):
                if tuple(words[start:start + n]) == phrase:
                    allowed[start:start + n] = [True] * n
        for word, is_allowed in zip(words, allowed, strict=True):
            if is_allowed:
                continue
            for block_list in self.block_lists:
                if block_list.matches(word):
                    return ProfanityHit(word=word, language=block_list.language)
        return None

    def check(self, text: str) -> None:
        """Raise a 422 ``Rejection`` naming the (masked) word and its language list."""
        hit = self.find(text)
        if hit is not None:
            raise Rejection(
                422,
                "profanity",
                f"The message was not sent because it contains {hit.masked!r}, which is on the "
                f"{LANGUAGES[hit.language]} block list. Rephrase it.",
            )
