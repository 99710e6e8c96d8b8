"""The routing classifier (SPEC P3): simple / moderate / complex in well under a millisecond.

A decision tree over cheap signals of the question (English and Portuguese): code and
math markers, analysis keywords, multi-step cues, length, and how deep the
conversation already is. Each signal adds points; the total picks the tier, and the
signals that fired are the human-readable reason (``X-Route: small; reason=short-faq``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Complexity = Literal["simple", "moderate", "complex"]

_CODE = re.compile(
    r"```|\bdef \w+\(|\bfunction \w*\(|\bclass \w+[:(]|\b(select|insert|update|delete) .+\b(from|into|set)\b|"
    r"=>|\breturn\b.*;|\bimport \w+|#include|\bconsole\.log\b|traceback|stack ?trace|exception|segfault|"
    r"\b(regex|regexp|sql query|unit tests?|testes? unitários?)\b|\w+\(\)|\{\s*\"?\w+\"?\s*:",
    re.IGNORECASE,
)
_MATH = re.compile(
    r"\d\s*[-+*/^=]\s*\d|∫|∑|√|\b(integral|derivative|derivada|equation|equação|equacao|prove|prova|"
    r"demonstre|theorem|teorema|probability|probabilidade|matrix|matriz|eigen\w*|calculate|calcule|"
    r"solve|resolva)\b",
    re.IGNORECASE,
)
_PROOF = re.compile(
    r"\b(prove|proof|derive|derivation|theorem|teorema|demonstre|demonstração|demonstracao|prova)\b",
    re.IGNORECASE,
)
_ANALYSIS = re.compile(
    r"\b(analy[sz]e|analysis|análise|analise|analisar|compare|comparison|compare[ms]?|comparar|comparação|"
    r"comparacao|contrast|trade-?offs?|pros and cons|prós e contras|pros e contras|architecture|arquitetura|"
    r"design|projete|strateg\w*|estratégia|estrategia|optimi[sz]e|otimizar|otimize|refactor|refatorar|"
    r"refatore|implement\w*|implementar|implemente|algorithm|algoritmo|in depth|in detail|detailed|"
    r"em detalhes|detalhad[oa]|evaluate|avaliar|avalie|migrat\w*|migrar|migração|scal(e|ing|ability)|"
    r"escalar|escalabilidade|debug\w*|depurar|benchmark\w*|root cause|causa raiz)\b",
    re.IGNORECASE,
)
_MULTI_STEP = re.compile(
    r"\b(step[- ]by[- ]step|passo a passo|first\b.+\bthen|primeiro\b.+\b(depois|então|entao)|and then|"
    r"e depois|after that|em seguida|walk me through|me guie|plan|plano|roadmap)\b|(^|\n)\s*\d[.)]\s",
    re.IGNORECASE | re.DOTALL,
)
_EXPLAIN = re.compile(
    r"\b(why|explain|difference|differences|summari[sz]e|should i|which is better|por que|porque|"
    r"explique|explicar|diferença|diferenca|resuma|resumir|devo|qual é melhor|qual e melhor|qual o melhor)\b",
    re.IGNORECASE,
)

LONG_WORDS = 60
VERY_LONG_WORDS = 150
DEEP_HISTORY_MESSAGES = 8
COMPLEX_SCORE = 3


@dataclass(frozen=True)
class RouteDecision:
    """The tier a question goes to, its score, and why."""

    complexity: Complexity
    score: int
    reason: str


def classify(message: str, history_messages: int = 0) -> RouteDecision:
    """Score ``message`` (asked after ``history_messages`` earlier messages) into a tier."""
    signals: list[tuple[str, int]] = []
    words = len(message.split())
    if _CODE.search(message):
        signals.append(("code", 3))
    if _MATH.search(message):
        signals.append(("math", 2))
    if _PROOF.search(message):
        signals.append(("proof", 1))
    analysis_terms = {m.group(0).lower() for m in _ANALYSIS.finditer(message)}
    if len(analysis_terms) >= 2:  # several asks for depth (compare + strategy + in detail...)
        signals.append(("deep-analysis", 3))
    elif analysis_terms:
        signals.append(("analysis", 2))
    if _MULTI_STEP.search(message):
        signals.append(("multi-step", 1))
    if words > VERY_LONG_WORDS:
        signals.append(("very-long", 2))
    elif words > LONG_WORDS:
        signals.append(("long", 1))
    if _EXPLAIN.search(message) or message.count("?") >= 2:
        signals.append(("explain", 1))
    if history_messages >= DEEP_HISTORY_MESSAGES:
        signals.append(("deep-history", 1))
    score = sum(points for _, points in signals)
    if score >= COMPLEX_SCORE:
        complexity: Complexity = "complex"
    elif score >= 1:
        complexity = "moderate"
    else:
        complexity = "simple"
    reason = "+".join(name for name, _ in signals) if signals else "short-faq"
    return RouteDecision(complexity, score, reason)
