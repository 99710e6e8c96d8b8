"""Deterministic answers whose length follows the question's complexity.

The same messages and seed always give the same answer. A short FAQ-style question
gets ~60 tokens, a multi-step "how/why" question ~180, and a request for analysis,
comparison, design or code ~400. Questions in Portuguese are answered in Portuguese.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from chatopt import tokens as token_counter

Language = Literal["en", "pt"]
Complexity = Literal["faq", "moderate", "complex"]

TARGET_TOKENS: dict[Complexity, int] = {"faq": 60, "moderate": 180, "complex": 400}

_COMPLEX_MARKERS = (
    "analy",
    "analis",
    "compar",
    "trade-off",
    "tradeoff",
    "architect",
    "arquitet",
    "design",
    "projet",
    "step by step",
    "passo a passo",
    "in depth",
    "detailed",
    "detalhad",
    "evaluat",
    "avali",
    "pros and cons",
    "prós e contras",
    "strateg",
    "estratég",
    "optimi",
    "otimiz",
    "refactor",
    "implement",
    "algorithm",
    "algoritm",
    "code",
    "código",
    "debug",
    "migrat",
    "migra",
    "benchmark",
    "scal",
    "escal",
)
_MODERATE_MARKERS = (
    "how",
    "why",
    "explain",
    "difference",
    "summar",
    "should",
    "como",
    "por que",
    "porque",
    "explique",
    "diferença",
    "resum",
    "devo",
    "qual a melhor",
    "which",
)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_PT_WORDS = _word_set(
    "não é você como que para uma um os as do da dos das em no na por com meu minha está são qual quais "
    "quando onde porque também mais muito pode posso fazer tem"
)
_EN_WORDS = _word_set(
    "the is are you how what why when where which and to of in on for with my your can do does it this "
    "that have should could would"
)
_STOP_WORDS = (
    _PT_WORDS
    | _EN_WORDS
    | _word_set("a an i me we our be was were will o e de se me eu nós isso esse essa este esta ao à")
)
_WORD = re.compile(r"[\wÀ-ÿ][\wÀ-ÿ'-]*", re.UNICODE)

_TEXT: dict[Language, dict[str, Sequence[str]]] = {
    "en": {
        "open": (
            "Here is the short answer about {topic}.",
            "Good question about {topic}.",
            "In short, {topic} comes down to a few points.",
            "Let's look at {topic} directly.",
        ),
        "body": (
            "First, check the settings page and confirm that the account details are up to date.",
            "Most cases are solved by following the documented steps in order.",
            "If the problem persists, contact support with the reference number of your request.",
            "The change takes effect immediately and you do not need to restart anything.",
            "Keep a copy of the previous configuration so you can roll back quickly.",
            "The limits depend on your plan, and you can see them on the billing page.",
            "You will receive a confirmation email once the request is processed.",
            "Usually this takes a few minutes, but it can take up to an hour at peak times.",
            "Measure before and after the change, so the improvement is a number and not a feeling.",
            "Small, reversible steps are safer than one large change.",
            "The logs show the exact time of each step, which makes the slow part easy to find.",
            "A cache in front of the expensive call removes most of the repeated work.",
        ),
        "heading": ("Context", "Analysis", "Trade-offs", "Risks", "Recommendation", "Next steps"),
        "point": (
            "Latency is dominated by the slowest dependency, so start where the time actually goes.",
            "Streaming the answer lowers the perceived wait even when the total time stays the same.",
            "Sending the full history on every call grows cost and time to first token linearly.",
            "A cheaper model handles most simple questions with no visible loss of quality.",
            "Connection pools and timeouts prevent one slow dependency from freezing everything else.",
            "Indexes on the columns used for filtering turn full scans into fast lookups.",
            "Rate limits protect the service, but they must be fair across users and instances.",
            "Every optimization needs a metric, a baseline and a rollback plan.",
            "Memory that grows with every request points to a cache without bounds or a leaked listener.",
            "Batching writes reduces round trips, at the price of a small delay in durability.",
        ),
        "close": (
            "In summary, measure first, change one thing at a time, and keep what the numbers support.",
            "Let me know if you want a deeper look at any of these points.",
        ),
    },
    "pt": {
        "open": (
            "Aqui está a resposta curta sobre {topic}.",
            "Boa pergunta sobre {topic}.",
            "Em resumo, {topic} depende de alguns pontos.",
            "Vamos direto ao ponto sobre {topic}.",
        ),
        "body": (
            "Primeiro, abra a página de configurações e confirme que os dados da conta estão atualizados.",
            "Na maioria dos casos, basta seguir os passos da documentação na ordem.",
            "Se o problema continuar, fale com o suporte informando o número do seu pedido.",
            "A alteração vale na hora e não é preciso reiniciar nada.",
            "Guarde uma cópia da configuração anterior para poder voltar atrás rapidamente.",
            "Os limites dependem do seu plano e aparecem na página de cobrança.",
            "Você vai receber um e-mail de confirmação quando o pedido for processado.",
            "Normalmente isso leva poucos minutos, mas pode levar até uma hora nos horários de pico.",
            "Meça antes e depois da mudança, para que a melhoria seja um número e não uma impressão.",
            "Passos pequenos e reversíveis são mais seguros do que uma grande mudança.",
            "Os logs mostram o tempo exato de cada etapa, o que facilita achar a parte lenta.",
            "Um cache na frente da chamada cara elimina a maior parte do trabalho repetido.",
        ),
        "heading": ("Contexto", "Análise", "Prós e contras", "Riscos", "Recomendação", "Próximos passos"),
        "point": (
            "A latência é dominada pela dependência mais lenta, então comece por onde o tempo realmente vai.",
            "Transmitir a resposta em streaming reduz a espera percebida mesmo com o mesmo tempo total.",
            "Enviar o histórico inteiro a cada chamada aumenta o custo e o tempo até o primeiro token.",
            "Um modelo mais barato resolve a maioria das perguntas simples sem perda visível de qualidade.",
            "Pools de conexão e timeouts evitam que uma dependência lenta trave todo o resto.",
            "Índices nas colunas usadas nos filtros transformam varreduras completas em buscas rápidas.",
            "Limites de taxa protegem o serviço, mas precisam ser justos entre usuários e instâncias.",
            "Toda otimização precisa de uma métrica, uma linha de base e um plano de reversão.",
            "Memória que cresce a cada requisição indica um cache sem limite ou um listener esquecido.",
            "Agrupar gravações reduz idas e voltas, ao custo de um pequeno atraso na durabilidade.",
        ),
        "close": (
            "Em resumo: meça primeiro, mude uma coisa de cada vez e mantenha o que os números confirmam.",
            "Se quiser, posso detalhar qualquer um desses pontos.",
        ),
    },
}

BAD_ANSWERS: dict[str, dict[Language, str]] = {
    "empty": {"en": "", "pt": ""},
    "refusal": {
        "en": "I'm sorry, but I can't help with that request.",
        "pt": "Desculpe, mas não posso ajudar com esse pedido.",
    },
    "short": {"en": "It depends.", "pt": "Depende."},
}


@dataclass(frozen=True)
class QuestionProfile:
    """What the answer generator read from the last user message."""

    question: str
    language: Language
    complexity: Complexity
    target_tokens: int


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last user message (empty when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [part.get("text", "") for part in content if isinstance(part, Mapping)]
                return " ".join(text for text in texts if isinstance(text, str))
    return ""


def detect_language(text: str) -> Language:
    """Portuguese or English, by common words and Portuguese-only letters."""
    words = [word.lower() for word in _WORD.findall(text)]
    pt = sum(word in _PT_WORDS for word in words) + 2 * sum(char in "ãõçêâ" for char in text.lower())
    en = sum(word in _EN_WORDS for word in words)
    return "pt" if pt > en else "en"


def classify(question: str) -> Complexity:
    """How demanding a question is: length, analysis keywords, code, several questions."""
    lowered = question.lower()
    words = len(_WORD.findall(question))
    score = words / 20
    score += 2 * sum(marker in lowered for marker in _COMPLEX_MARKERS)
    score += sum(re.search(rf"\b{re.escape(marker)}", lowered) is not None for marker in _MODERATE_MARKERS)
    score += 2 if "```" in question else 0
    score += 1 if question.count("?") > 1 else 0
    if score >= 4:
        return "complex"
    if score >= 1.5:
        return "moderate"
    return "faq"


def profile_question(messages: Sequence[Mapping[str, Any]]) -> QuestionProfile:
    """Language, complexity and target answer length for a chat request."""
    question = last_user_text(messages)
    complexity = classify(question)
    return QuestionProfile(question, detect_language(question), complexity, TARGET_TOKENS[complexity])


def _topic(question: str, language: Language) -> str:
    words = [word for word in _WORD.findall(question) if word.lower() not in _STOP_WORDS and len(word) > 2]
    if not words:
        return "this" if language == "en" else "isso"
    return " ".join(words[:4]).lower()


def compose_answer(
    messages: Sequence[Mapping[str, Any]], *, seed: int = 0, encoding: str = token_counter.DEFAULT_ENCODING
) -> str:
    """The mock's answer to a chat: deterministic for the messages and seed, sized by complexity."""
    canonical = json.dumps(list(messages), sort_keys=True, ensure_ascii=False, default=str)
    return _compose_cached(canonical, seed, encoding)


@lru_cache(maxsize=4096)
def _compose_cached(canonical: str, seed: int, encoding: str) -> str:
    messages = json.loads(canonical)
    digest = hashlib.sha256(f"{seed}\x00{canonical}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    profile = profile_question(messages)
    text = _TEXT[profile.language]
    target = round(profile.target_tokens * rng.uniform(0.9, 1.1))
    topic = _topic(profile.question, profile.language)
    if profile.complexity == "complex":
        pieces = _structured_pieces(text, rng)
        closing = "\n\n" + rng.choice(text["close"])
        target -= token_counter.count_text(closing, encoding=encoding)
    else:
        body = list(text["body"])
        rng.shuffle(body)
        pieces = (" " + body[index % len(body)] for index in range(10_000))
        closing = ""
    parts = [rng.choice(text["open"]).format(topic=topic)]
    used = token_counter.count_text(parts[0], encoding=encoding)
    for piece in pieces:
        size = token_counter.count_text(piece, encoding=encoding)
        if used + size / 2 > target:  # stop where the answer ends closest to its target length
            break
        parts.append(piece)
        used += size
    return "".join(parts) + closing


def _structured_pieces(text: Mapping[str, Sequence[str]], rng: random.Random) -> Iterator[str]:
    """Headings, each followed by two numbered points, for analysis-style answers."""
    points = list(text["point"])
    rng.shuffle(points)
    for number in range(10_000):
        point = f"\n{number % 2 + 1}. {points[number % len(points)]}"
        if number % 2 == 0:
            yield f"\n\n**{text['heading'][(number // 2) % len(text['heading'])]}**\n{point}"
        else:
            yield point


def bad_answer(kind: str, messages: Sequence[Mapping[str, Any]]) -> str:
    """An injected low-quality answer (empty, refusal or too short) in the question's language."""
    return BAD_ANSWERS[kind][detect_language(last_user_text(messages))]
