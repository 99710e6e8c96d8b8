"""The chat pipeline's admission and input stages, built from the Phase 2 components.

``RateLimitAdmission`` fills the ``admission`` slot: per-user (by tier) and per-IP sliding
windows, refused with 429 + ``Retry-After`` + ``RateLimit`` headers (503 when Redis is
down and the limiter fails closed). ``RateLimitHeadersMiddleware`` puts the ``RateLimit``
headers on admitted answers too, so clients see their remaining quota before hitting it.
``MessageFilter`` fills the ``input_filter`` slot: length limit, spam, profanity, then HTML
sanitizing of the text that gets stored.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_server.chat.turn import Turn
from reference_server.errors import ApiError
from reference_server.observability.metrics import ServerMetrics
from reference_server.security.profanity import ProfanityFilter
from reference_server.security.ratelimit import (
    RateDecision,
    RateLimitCheck,
    SlidingWindowLimiter,
    ip_policy,
    tier_policy,
)
from reference_server.security.rejection import Rejection
from reference_server.security.sanitize import sanitize_message
from reference_server.security.spam import check_spam
from reference_server.security.spam_classifier import LlmSpamClassifier
from reference_server.security.validation import check_message
from reference_server.settings import ServerSettings


class RateLimitAdmission:
    """Admits a turn when the user's tier window and the client IP's window both have room."""

    def __init__(
        self, limiter: SlidingWindowLimiter, settings: ServerSettings, metrics: ServerMetrics | None = None
    ) -> None:
        self.limiter = limiter
        self.settings = settings
        self.metrics = metrics

    def checks(self, turn: Turn) -> list[RateLimitCheck]:
        settings = self.settings
        user = tier_policy(turn.identity.tier, free_per_hour=settings.rate_free_per_hour,
                           premium_per_hour=settings.rate_premium_per_hour)
        checks = [RateLimitCheck(user, f"user:{turn.identity.user_id}")]
        if turn.client_ip:
            checks.append(RateLimitCheck(ip_policy(settings.rate_ip_per_hour), f"ip:{turn.client_ip}"))
        return checks

    @asynccontextmanager
    async def admit(self, turn: Turn) -> AsyncIterator[None]:
        decision = await self.limiter.hit(*self.checks(turn))
        slot = _admitted.get()
        if slot is not None:
            slot.append(decision)
        if decision.unavailable:
            if self.metrics is not None:
                self.metrics.rate_limited.labels("unavailable").inc()
            raise ApiError(503, "rate_limiter_unavailable",
                           "Rate limits cannot be checked right now, so requests are refused; retry shortly.",
                           decision.headers())
        if not decision.allowed:
            tight = decision.tightest
            if self.metrics is not None:
                self.metrics.rate_limited.labels(tight.policy.name).inc()
            who = "this address" if tight.policy.name == "ip" else f"the {tight.policy.name} tier"
            raise ApiError(
                429, "rate_limited",
                f"Rate limit reached: {tight.policy.limit} messages per hour for {who}. "
                f"Retry in {math.ceil(decision.retry_after_s)} s.",
                decision.headers(),
            )
        yield


_admitted: ContextVar[list[RateDecision] | None] = ContextVar("chatopt_rate_decisions", default=None)


class RateLimitHeadersMiddleware:
    """ASGI middleware: ``RateLimit`` / ``RateLimit-Policy`` on responses whose turn was admitted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decisions: list[RateDecision] = []
        token = _admitted.set(decisions)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and decisions:
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in decisions[-1].headers().items()
                    if name.lower().encode() not in present and name != "Retry-After"
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _admitted.reset(token)


class MessageFilter:
    """Length, spam and profanity checks, then sanitizing; each refusal says why."""

    def __init__(
        self, settings: ServerSettings, metrics: ServerMetrics | None = None,
        profanity: ProfanityFilter | None = None, classifier: LlmSpamClassifier | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.profanity = profanity or ProfanityFilter()
        self.classifier = classifier

    def clean(self, text: str) -> str:
        """The text to store and send on, or a ``Rejection``."""
        text = check_message(text, self.settings.max_message_chars)
        check_spam(text)
        self.profanity.check(text)
        return sanitize_message(text)

    async def check(self, turn: Turn) -> None:
        try:
            turn.message = self.clean(turn.message)
            if self.classifier is not None and await self.classifier.is_spam(turn.message):
                raise Rejection(422, "spam_detected",
                                "The message was not sent because the spam classifier judged it to be spam.")
        except Rejection as rejected:
            if self.metrics is not None:
                self.metrics.input_rejections.labels(rejected.code).inc()
            raise ApiError(rejected.status, rejected.code, rejected.message, rejected.headers) from rejected
