"""Which answers may enter the cache, and for how long.

Only a complete, validated answer is stored: no upstream error, no truncated
(``finish_reason != "stop"``) or cancelled stream, no refusal, nothing holding
personal data, nothing explicitly marked private. The TTL class is picked
automatically: time-sensitive questions (prices, "today", news, weather...) and
answers that depend on the conversation are ``dynamic`` (1 day by default); the
rest are ``faq`` (7 days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reference_server.cache.entry import TtlClass
from reference_server.routing.quality import looks_like_refusal

_PERSONAL_DATA = (
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail address
    re.compile(r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b"),  # Brazilian CPF
    re.compile(r"\b\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}\b"),  # Brazilian CNPJ
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # US SSN
    re.compile(r"\b(?:\d[ -]?){13,19}\b"),  # payment card number
    re.compile(r"(?:\+\d{1,3}[ .-]?)?\(?\d{2,3}\)?[ .-]?\d{4,5}[ .-]?\d{4}\b"),  # phone number
    re.compile(
        r"\b(my|meu|minha) (password|senha|address|endereço|endereco|salary|salário|salario) (is|é|e)\b", re.I
    ),
)
_TIME_SENSITIVE = re.compile(
    r"\b(today|tonight|tomorrow|yesterday|now|right now|currently|current|latest|recent|"
    r"this (week|month|year)|"
    r"news|weather|forecast|price|prices|cost today|stock|exchange rate|score|live|status|open now|"
    r"hoje|amanhã|amanha|ontem|agora|atualmente|atual|último|ultimo|última|ultima|recente|"
    r"esta semana|este mês|este mes|este ano|notícias|noticias|clima|previsão|previsao|tempo hoje|preço|"
    r"preco|preços|precos|cotação|cotacao|câmbio|cambio|placar|ao vivo)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CompletedAnswer:
    """What the pipeline hands to the cache after an upstream answer finished."""

    text: str
    model: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: bool = False
    cancelled: bool = False
    personal: bool = False


def rejection_reason(query: str, answer: CompletedAnswer) -> str | None:
    """Why ``answer`` must not be cached (a short label for counters), or None if it may be."""
    if answer.error:
        return "error"
    if answer.cancelled:
        return "cancelled"
    if answer.finish_reason != "stop":
        return "truncated"
    if not answer.text.strip():
        return "empty"
    if looks_like_refusal(answer.text):
        return "refusal"
    if answer.personal or any(p.search(query) or p.search(answer.text) for p in _PERSONAL_DATA):
        return "personal"
    return None


def ttl_class(query: str, *, depends_on_context: bool) -> TtlClass:
    """``dynamic`` for time-sensitive or conversation-bound questions, else ``faq``."""
    if depends_on_context or _TIME_SENSITIVE.search(query):
        return "dynamic"
    return "faq"
