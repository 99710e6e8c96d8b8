"""The alert hook: a circuit-breaker state change is logged, counted and (optionally) posted to a webhook.

Webhook posts run in the background with a short timeout; at most ``max_pending`` are in
flight, so a slow receiver can never pile up tasks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from reference_server.observability.metrics import ServerMetrics
from reference_server.security.resilience import BreakerState, CircuitBreaker

log = logging.getLogger("reference_server.alerts")


class Alerter:
    """Receives breaker transitions (``on_transition``) and raises alerts."""

    def __init__(
        self,
        metrics: ServerMetrics | None = None,
        webhook_url: str | None = None,
        *,
        timeout_s: float = 2.0,
        max_pending: int = 16,
    ) -> None:
        self.metrics = metrics
        self.webhook_url = webhook_url
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self._pending: set[asyncio.Task[None]] = set()

    def breaker_transition(self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        """Breaker hook: export the state; alert when it opens, note when it closes again."""
        if self.metrics is not None:
            self.metrics.breaker_state.labels(breaker.upstream).set(new.gauge_value)
        calls, failures = breaker.window_counts()
        payload = {"kind": f"circuit_{new.value}", "upstream": breaker.upstream, "from": old.value,
                   "to": new.value, "window_calls": calls, "window_failures": failures}
        if new is BreakerState.OPEN:
            log.error("circuit breaker for %s opened: upstream failing, serving fallbacks", breaker.upstream,
                      extra={"alert": payload})
            self.raise_alert(payload)
        elif new is BreakerState.CLOSED:
            log.warning("circuit breaker for %s closed: upstream recovered", breaker.upstream,
                        extra={"alert": payload})
            self.raise_alert(payload)

    def raise_alert(self, payload: dict[str, Any]) -> None:
        """Count the alert and post it to the webhook (when configured) without blocking."""
        if self.metrics is not None:
            self.metrics.alerts.labels(payload["kind"]).inc()
        if self.webhook_url is None or len(self._pending) >= self.max_pending:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._post(payload))
        except RuntimeError:
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post(self, payload: dict[str, Any]) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                await client.post(self.webhook_url or "", json=payload)
        except httpx.HTTPError as exc:
            log.warning("alert webhook failed: %s", exc)

    async def drain(self) -> None:
        """Wait for webhook posts in flight (shutdown, tests)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
