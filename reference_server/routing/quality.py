"""The quality check on a light model's answer: is it good enough to keep, or escalate?

Cheap rules, English and Portuguese: empty, cut by the token limit
(``finish_reason == "length"``), a refusal, too short to answer the question, or
malformed (an unclosed code block, broken characters, a sentence looping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REFUSAL = re.compile(
    r"^\s*(i'?m sorry,? but|i am sorry,? but|sorry,? (but )?i can(no|')t|i can(no|')t (help|assist|answer|"
    r"provide|do that)|i'?m (not able|unable) to|i am (not able|unable) to|as an ai\b|i won'?t be able to|"
    r"desculpe,? (mas )?(não|nao) (posso|consigo)|(não|nao) (posso|consigo) (ajudar|responder|fornecer)|"
    r"lamento,? mas|infelizmente,? (não|nao) (posso|consigo)|como (uma )?ia\b)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]{12,}[.!?]")
MIN_ANSWER_WORDS = 3
LOOP_REPEATS = 3


@dataclass(frozen=True)
class QualityVerdict:
    """``ok``, or the reason the answer should be retried on a bigger model."""

    ok: bool
    reason: str | None = None


def looks_like_refusal(text: str) -> bool:
    """True when the answer opens by declining ("I'm sorry, but I can't...", "Desculpe, mas não posso...")."""
    return bool(_REFUSAL.search(text))


def is_malformed(text: str) -> bool:
    """An unclosed code fence, Unicode replacement characters, or one sentence repeated in a loop."""
    if text.count("```") % 2 == 1 or "\ufffd" in text:
        return True
    sentences = [s.strip().lower() for s in _SENTENCE.findall(text)]
    return any(sentences.count(s) >= LOOP_REPEATS for s in set(sentences))


def check_answer(text: str, finish_reason: str | None) -> QualityVerdict:
    """Judge a complete answer."""
    if not text.strip():
        return QualityVerdict(False, "empty")
    if finish_reason == "length":
        return QualityVerdict(False, "truncated")
    if looks_like_refusal(text):
        return QualityVerdict(False, "refusal")
    if len(text.split()) < MIN_ANSWER_WORDS:
        return QualityVerdict(False, "too-short")
    if is_malformed(text):
        return QualityVerdict(False, "malformed")
    return QualityVerdict(True)


def check_prefix(text: str) -> QualityVerdict:
    """Judge the first part of a streamed answer (before any of it is shown): refusals and garbage."""
    if looks_like_refusal(text):
        return QualityVerdict(False, "refusal")
    if "\ufffd" in text:
        return QualityVerdict(False, "malformed")
    return QualityVerdict(True)
