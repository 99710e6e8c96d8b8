"""Dynamic model routing (SPEC P3): the right model per question, escalation and error fallback.

``ModelRouter.plan`` classifies the question (< 1 ms) and orders the models to try:
the chosen tier first, then the bigger ones, then (for errors only) the smaller ones,
skipping models in cooldown. ``ModelRouter.llm`` wraps the upstream client so that a
call follows the plan:

* a light model's answer that fails the quality check (empty, refusal, too short,
  cut by the token limit, malformed) is retried on the next bigger model;
* an upstream error before the first token (5xx, 429, connection, no first token
  within ``first_token_timeout_s``) moves on to the next model and puts the failing
  one in cooldown;
* nothing is retried once tokens have reached the user. A streamed light answer is
  held back for its first ``hold_back_chars`` characters (or whole, if shorter) so a
  refusal or an empty or too-short answer is caught before anything is shown. 32
  characters hold the longest refusal opening the check knows (~6 tokens, ~50 ms on a
  light model), so the hold-back costs little time to first token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatopt import tokens
from reference_server.llm.client import ChatMessage, Completion, Delta, StreamEnd, UpstreamError, Usage
from reference_server.routing.classifier import Complexity, RouteDecision, classify
from reference_server.routing.cooldown import ModelCooldown
from reference_server.routing.prices import PriceTable
from reference_server.routing.quality import check_answer, check_prefix
from reference_server.routing.stats import RoutingStats
from reference_server.settings import ServerSettings

log = logging.getLogger("reference_server.routing")

COMPLEXITY_ORDER: tuple[Complexity, ...] = ("simple", "moderate", "complex")
TIER_LABELS = {"simple": "small", "moderate": "medium", "complex": "large"}


class UpstreamLLM(Protocol):
    """What the router wraps: the server's LLM client (plain or guarded)."""

    async def complete(
        self, messages: list[ChatMessage], model: str, max_tokens: int | None = None
    ) -> Completion: ...

    def stream(self, messages: list[ChatMessage], model: str) -> AsyncIterator[Delta | StreamEnd]: ...


@dataclass(frozen=True)
class RoutePlan:
    """The classifier's decision and the models to try, in order."""

    decision: RouteDecision
    models: tuple[str, ...]

    @property
    def header(self) -> str:
        """The ``X-Route`` header value, e.g. ``small; reason=short-faq``."""
        return f"{TIER_LABELS[self.decision.complexity]}; reason={self.decision.reason}"


@dataclass(frozen=True)
class Attempt:
    """One upstream call of a routed request and how it ended (``ok``, ``escalated:...``, ``error:...``)."""

    model: str
    outcome: str
    cost_usd: float = 0.0


@dataclass
class RouteOutcome:
    """What a routed request did: its attempts, who answered and what it cost."""

    plan: RoutePlan
    attempts: list[Attempt] = field(default_factory=list)
    answered_by: str | None = None

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    @property
    def escalated(self) -> bool:
        return any(a.outcome.startswith("escalated") for a in self.attempts)


class ModelRouter:
    """Classifies questions, orders models, and wraps the LLM client with escalation and fallback."""

    def __init__(
        self,
        models: dict[Complexity, str],
        *,
        prices: PriceTable | None = None,
        cooldown: ModelCooldown | None = None,
        first_token_timeout_s: float = 10.0,
        hold_back_chars: int = 32,
    ) -> None:
        self.models = models
        self.prices = prices or PriceTable()
        self.cooldown = cooldown or ModelCooldown()
        self.first_token_timeout_s = first_token_timeout_s
        self.hold_back_chars = hold_back_chars
        self.stats = RoutingStats()

    @classmethod
    def from_settings(cls, settings: ServerSettings, **options: Any) -> ModelRouter:
        models: dict[Complexity, str] = {
            "simple": settings.model_small,
            "moderate": settings.model_medium,
            "complex": settings.model_large,
        }
        return cls(models, **options)

    def plan(self, message: str, history_messages: int = 0) -> RoutePlan:
        """Classify ``message`` and order the models: chosen tier, bigger ones, then smaller ones."""
        decision = classify(message, history_messages)
        self.stats.decisions[decision.complexity] += 1
        chosen = COMPLEXITY_ORDER.index(decision.complexity)
        order = [self.models[c] for c in COMPLEXITY_ORDER[chosen:]]
        order += [self.models[c] for c in reversed(COMPLEXITY_ORDER[:chosen])]
        unique = list(dict.fromkeys(order))
        ready = [m for m in unique if self.cooldown.available(m)]
        return RoutePlan(decision, tuple(ready or unique))

    def rank(self, model: str) -> int:
        """0 for the light model, 2 for the top one (unknown models rank as top)."""
        ranks = [i for i, c in enumerate(COMPLEXITY_ORDER) if self.models[c] == model]
        return max(ranks) if ranks else len(COMPLEXITY_ORDER) - 1

    def llm(self, inner: UpstreamLLM, plan: RoutePlan) -> RoutedLLM:
        """``inner`` wrapped to follow ``plan`` (same ``complete`` / ``stream`` interface)."""
        return RoutedLLM(inner, self, plan)

    def cost_usd(self, model: str, messages: Sequence[ChatMessage], text: str, usage: Usage | None) -> float:
        """Cost of one call from its usage (counted exactly when the upstream did not report it)."""
        if usage is None:
            usage = Usage(
                prompt_tokens=tokens.count_messages(list(messages), model=model),
                completion_tokens=tokens.count_text(text, model=model),
            )
        return self.prices.cost_usd(model, usage.prompt_tokens, usage.completion_tokens)


class RoutedLLM:
    """An LLM client that follows a :class:`RoutePlan`; ``outcome`` records what happened."""

    def __init__(self, inner: UpstreamLLM, router: ModelRouter, plan: RoutePlan) -> None:
        self.inner = inner
        self.router = router
        self.plan = plan
        self.outcome = RouteOutcome(plan)

    def _checks_quality(self, model: str, later: Sequence[str]) -> bool:
        rank = self.router.rank(model)
        return any(self.router.rank(m) > rank for m in later)

    def _record(self, model: str, outcome: str, cost: float) -> None:
        self.outcome.attempts.append(Attempt(model, outcome, cost))
        stats = self.router.stats
        stats.calls[model] += 1
        stats.cost_usd[model] += cost
        kind, _, reason = outcome.partition(":")
        if kind == "escalated":
            stats.escalations[reason] += 1
            log.info("answer of %s failed the quality check (%s): retrying on a bigger model", model, reason)
        elif kind == "error":
            stats.fallbacks[reason] += 1
            self.router.cooldown.trip(model)
            log.warning("%s failed before its first token (%s): cooling it down, trying the next model",
                        model, reason)
        else:
            self.outcome.answered_by = model

    def _next_models(self, tried: list[str]) -> list[str]:
        remaining = [m for m in self.plan.models if m not in tried]
        escalated_from = [a.model for a in self.outcome.attempts if a.outcome.startswith("escalated")]
        if escalated_from:  # after a weak answer, only bigger models may answer
            floor = max(self.router.rank(m) for m in escalated_from)
            remaining = [m for m in remaining if self.router.rank(m) > floor]
        return remaining

    async def complete(
        self, messages: list[ChatMessage], model: str | None = None, max_tokens: int | None = None
    ) -> Completion:
        """The whole answer from the first model of the plan that succeeds and passes the check."""
        tried: list[str] = []
        weak: Completion | None = None
        error: UpstreamError | None = None
        while remaining := self._next_models(tried):
            current = remaining[0]
            tried.append(current)
            try:
                result = await self.inner.complete(messages, current, max_tokens)
            except UpstreamError as exc:
                self._record(current, f"error:{exc.code}", 0.0)
                error = exc
                continue
            cost = self.router.cost_usd(current, messages, result.text, result.usage)
            if self._checks_quality(current, remaining[1:]):
                verdict = check_answer(result.text, result.finish_reason)
                if not verdict.ok:
                    self._record(current, f"escalated:{verdict.reason}", cost)
                    weak = result
                    continue
            self._record(current, "ok", cost)
            return result
        if weak is not None:  # every bigger model failed: the weak answer beats none
            self.outcome.answered_by = weak.model
            return weak
        if error is not None:
            raise error
        raise UpstreamError("no model is available right now", code="upstream_unavailable", status=503)

    async def stream(
        self, messages: list[ChatMessage], model: str | None = None
    ) -> AsyncIterator[Delta | StreamEnd]:
        """Deltas from the first model of the plan that succeeds; see the module docstring."""
        tried: list[str] = []
        weak: tuple[str, StreamEnd] | None = None
        error: Exception | None = None
        while remaining := self._next_models(tried):
            current = remaining[0]
            tried.append(current)
            checks = self._checks_quality(current, remaining[1:])
            held: list[str] = []  # text not shown yet (the hold-back)
            received: list[str] = []  # all text of this attempt (for its cost)
            holding = checks
            delivered = False
            end: StreamEnd | None = None
            verdict_reason: str | None = None
            source = self.inner.stream(messages, current)
            try:
                async with contextlib.aclosing(source):
                    iterator = aiter(source)
                    async with asyncio.timeout(self.router.first_token_timeout_s):
                        item = await anext(iterator, None)
                    while item is not None:
                        if isinstance(item, StreamEnd):
                            end = item
                            item = await anext(iterator, None)
                            continue
                        received.append(item.text)
                        if holding:
                            held.append(item.text)
                            text = "".join(held)
                            if len(text) >= self.router.hold_back_chars:
                                verdict = check_prefix(text)
                                if not verdict.ok:
                                    verdict_reason = verdict.reason
                                    break
                                holding, delivered = False, True
                                yield Delta(text)
                        else:
                            delivered = True
                            yield item
                        item = await anext(iterator, None)
            except (UpstreamError, TimeoutError) as exc:
                if delivered:
                    raise
                code = exc.code if isinstance(exc, UpstreamError) else "first_token_timeout"
                self._record(current, f"error:{code}", 0.0)
                error = exc
                continue
            text = "".join(held)
            if verdict_reason is None and holding and end is not None:
                verdict = check_answer(text, end.finish_reason)
                verdict_reason = verdict.reason
            if end is None and verdict_reason is None:
                error = UpstreamError("the model stream ended without finishing")
                self._record(current, "error:incomplete_stream", 0.0)
                continue
            cost = self.router.cost_usd(current, messages, "".join(received), end.usage if end else None)
            if verdict_reason is not None:
                self._record(current, f"escalated:{verdict_reason}", cost)
                if end is not None:
                    weak = (text, end)
                continue
            assert end is not None
            if delivered and end.finish_reason == "length":
                self.router.stats.unrecoverable["truncated"] += 1
            self._record(current, "ok", cost)
            if holding and text:
                yield Delta(text)
            yield end
            return
        if weak is not None:
            text, end = weak
            self.outcome.answered_by = end.model
            if text:
                yield Delta(text)
            yield end
            return
        if isinstance(error, UpstreamError):
            raise error
        raise UpstreamError("no model answered in time", code="upstream_timeout", status=504)
