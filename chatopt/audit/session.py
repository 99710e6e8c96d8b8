"""One audit's connection to the target: bounded requests, the tap's view, shared probes.

Every request the audit makes goes through :class:`AuditSession`, which counts it
against the request budget and the time budget, and pairs each chat exchange with the
AI calls the tap saw while it ran. Probes several checks need (the scripted
conversation) run once and are shared.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from chatopt.audit.prices import PriceTable
from chatopt.tap import AICall, TapServer
from chatopt.targets import ChatExchange, Target, send_chat

#: The scripted conversation: short support questions, so each turn is cheap but the
#: history grows by a full exchange every turn.
CONVERSATION = (
    "Hi! What are your support hours?",
    "Do you have a phone number I can call?",
    "Can I change the email address on my account?",
    "How long does a refund usually take?",
    "Is there a discount for annual plans?",
    "Where can I download my invoices?",
    "Thanks! Can you remind me what the support hours were?",
)


class BudgetExhausted(Exception):
    """The audit's request or time budget is spent; the check stops with what it has."""


@dataclass
class Probe:
    """One chat exchange and the AI calls the backend made while serving it."""

    message: str
    exchange: ChatExchange
    started_at: float
    calls: list[AICall] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exchange.ok

    @property
    def total_ms(self) -> float:
        return self.exchange.e2e_s * 1000

    @property
    def ttft_ms(self) -> float | None:
        ttft = self.exchange.ttft_s
        return None if ttft is None else ttft * 1000

    @property
    def chat_calls(self) -> list[AICall]:
        return [call for call in self.calls if call.kind == "chat"]


@dataclass
class AuditOptions:
    """What the user asked the audit to do."""

    max_requests: int = 150
    max_seconds: float = 60.0
    skip_intrusive: bool = False
    skip: frozenset[str] = frozenset()
    pid: int | None = None
    redis_url: str | None = None
    database_url: str | None = None
    lang: str = "en"
    stall_s: float = 4.0
    prices: PriceTable = field(default_factory=PriceTable)


class AuditSession:
    """The audit's single door to the target (and to the tap, when one runs)."""

    def __init__(
        self, target: Target, client: httpx.AsyncClient, options: AuditOptions, tap: TapServer | None = None
    ) -> None:
        self.target = target
        self.client = client
        self.options = options
        self.tap = tap
        self.requests_sent = 0
        self.chats_sent = 0
        self.started = time.monotonic()
        self.deadline = self.started + options.max_seconds
        self.response_headers: list[dict[str, str]] = []
        self.rss_samples: list[tuple[float, float]] = []
        self.transport: dict[str, object] = {}
        self._conversation: list[Probe] | None = None
        self._conversation_lock = asyncio.Lock()

    # -- budget ---------------------------------------------------------------
    @property
    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def remaining_requests(self) -> int:
        return self.options.max_requests - self.requests_sent

    def spend(self, requests: int = 1) -> None:
        """Count requests about to be sent; raise :class:`BudgetExhausted` when over budget."""
        if self.remaining_requests < requests:
            raise BudgetExhausted(f"request budget of {self.options.max_requests} spent")
        if self.remaining_s <= 0:
            raise BudgetExhausted(f"time budget of {self.options.max_seconds:g}s spent")
        self.requests_sent += requests

    @property
    def origin(self) -> str:
        parts = urlsplit(self.target.url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}"

    # -- requests -------------------------------------------------------------
    async def chat(
        self,
        message: str,
        *,
        conversation_id: str | None = None,
        history: Sequence[Mapping[str, str]] = (),
        timeout_s: float | None = None,
        with_calls: bool = True,
    ) -> Probe:
        """Send one chat message; pair it with the AI calls the tap saw (when ``with_calls``)."""
        self.spend()
        self.chats_sent += 1
        bookmark = self.tap.proxy.last_id if self.tap else 0
        target = self.target
        limit = min(timeout_s or target.timeout_s, max(self.remaining_s, 1.0))
        if limit < target.timeout_s:
            target = target.model_copy(update={"timeout_s": limit})
        started_at = time.time()
        exchange = await send_chat(
            target,
            self.client,
            message,
            conversation_id=conversation_id,
            user_id="chatopt-audit",
            history=history,
        )
        if exchange.headers:
            self.response_headers.append(exchange.headers)
        probe = Probe(message=message, exchange=exchange, started_at=started_at)
        if self.tap is not None and with_calls:
            await asyncio.to_thread(self.tap.proxy.wait_settled, 3.0)
            probe.calls = self.tap.proxy.calls_since(bookmark)
        return probe

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> httpx.Response:
        """A plain HTTP request to the target's server (counted against the budget)."""
        self.spend()
        merged = {**self.target.headers, **(headers or {})}
        limit = max(0.5, min(timeout_s, self.remaining_s))
        return await self.client.request(method, url, content=content, headers=merged, timeout=limit)

    async def conversation(self) -> list[Probe]:
        """The scripted multi-turn conversation, run once and shared by every check."""
        async with self._conversation_lock:
            if self._conversation is None:
                self._conversation = await self._run_conversation()
            return self._conversation

    async def _run_conversation(self) -> list[Probe]:
        probes: list[Probe] = []
        history: list[dict[str, str]] = []
        conversation_id: str | None = None
        for message in CONVERSATION:
            try:
                probe = await self.chat(message, conversation_id=conversation_id, history=history)
            except BudgetExhausted:
                break
            probes.append(probe)
            if not probe.ok:
                break
            conversation_id = conversation_id or probe.exchange.conversation_id
            history += [
                {"role": "user", "content": message},
                {"role": "assistant", "content": probe.exchange.answer},
            ]
        return probes
