"""Cache keys: scope + context fingerprint + normalized query.

An answer is only reusable by someone who would have received the same answer:
the same scope (tenant or user, system-prompt version, model tier) and the same
conversation context *when the question depends on it*. A standalone question
("what is the capital of France?") gets an empty fingerprint so every conversation
shares it; a follow-up ("and in Germany?") is keyed on the recent exchange it refers
to, so it can never hit an answer given in another conversation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reference_server.cache.normalize import normalize_query

#: How many trailing history messages a follow-up's fingerprint covers.
CONTEXT_MESSAGES = 2

# Cues that a question leans on what came before (English and Portuguese).
_FOLLOW_UP_START = re.compile(
    r"^(and|but|or|so|also|then|what about|how about|and what|why not|same for|e|mas|ou|então|entao|"
    r"também|tambem|e quanto|e sobre|e o|e a|e os|e as|e no|e na|e em|e se|e pra|e para)\b"
)
_REFERRING_WORDS = re.compile(
    r"\b(it|its|it's|that|this|those|these|them|they|their|he|she|him|her|there|above|previous|"
    r"earlier|again|more|another|one|same|else|ele|ela|eles|elas|dele|dela|isso|isto|aquilo|esse|essa|"
    r"este|esta|esses|essas|disso|desse|dessa|nisso|lá|ali|anterior|acima|mesmo|mesma|outro|outra|mais)\b"
)
_SHORT_QUESTION_WORDS = 3


@dataclass(frozen=True)
class CacheScope:
    """Who may share an answer: namespace (tenant, user or "global"), prompt version, model tier."""

    namespace: str = "global"
    system_prompt_version: str = ""
    model_tier: str = ""

    @property
    def key_prefix(self) -> str:
        """The readable front of every key of this scope (invalidate a tenant by this prefix)."""
        return f"{self.namespace}|{self.system_prompt_version}|{self.model_tier}|"


def depends_on_context(query: str) -> bool:
    """Whether ``query`` probably refers to earlier messages (a follow-up) rather than stands alone."""
    normalized = normalize_query(query)
    if _FOLLOW_UP_START.search(normalized):
        return True
    words = normalized.split()
    return len(words) <= _SHORT_QUESTION_WORDS or bool(_REFERRING_WORDS.search(normalized))


def context_fingerprint(query: str, history: Sequence[Mapping[str, str]]) -> str:
    """A digest of the context the answer to ``query`` depends on; "" for a standalone question."""
    turns = [m for m in history if m.get("role") in ("user", "assistant")]
    if not turns or not depends_on_context(query):
        return ""
    recent = [[m["role"], normalize_query(m.get("content") or "")] for m in turns[-CONTEXT_MESSAGES:]]
    return hashlib.sha256(json.dumps(recent, ensure_ascii=False).encode()).hexdigest()[:16]


def partition_key(scope: CacheScope, fingerprint: str) -> str:
    """The semantic-search partition: only entries with the same scope and context are compared."""
    return f"{scope.key_prefix}{fingerprint}"


def exact_key(scope: CacheScope, fingerprint: str, normalized_query: str) -> str:
    """The exact-layer key: readable scope prefix + hash of context fingerprint and normalized query."""
    digest = hashlib.sha256(f"{fingerprint}\n{normalized_query}".encode()).hexdigest()[:32]
    return f"{scope.key_prefix}{digest}"
