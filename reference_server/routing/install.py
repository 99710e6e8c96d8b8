"""Plug model routing into the chat pipeline (``routing`` switch).

:class:`PipelineRouter` fills the pipeline's ``ModelRouter`` slot: ``choose`` classifies
the turn and keeps its plan on the turn (``X-Route`` comes from it); ``llm_for`` wraps the
server's LLM client so the call follows the plan (escalation, fallback, cooldown, cost).
"""

from __future__ import annotations

import logging

from reference_server.chat.turn import Turn
from reference_server.routing.router import ModelRouter, RoutedLLM, RoutePlan, UpstreamLLM
from reference_server.services import Services

log = logging.getLogger("reference_server.routing")


class PipelineRouter:
    """The pipeline's router slot over a :class:`ModelRouter`."""

    def __init__(self, router: ModelRouter) -> None:
        self.router = router

    async def choose(self, turn: Turn) -> str:
        plan = self.router.plan(turn.message, len(turn.history))
        turn.route_plan = plan
        decision = plan.decision
        fields = {"model": plan.models[0], "complexity": decision.complexity, "reason": decision.reason}
        log.info("routed to %s (%s: %s)", plan.models[0], decision.complexity, decision.reason, extra=fields)
        return plan.models[0]

    def llm_for(self, turn: Turn, llm: UpstreamLLM) -> RoutedLLM | UpstreamLLM:
        """``llm`` wrapped to follow the turn's plan (``llm`` itself when the turn was not routed)."""
        if not isinstance(turn.route_plan, RoutePlan):
            return llm
        return self.router.llm(llm, turn.route_plan)


def attach_routing(services: Services) -> None:
    """Fill ``services.router`` when the ``routing`` switch is on."""
    settings = services.settings
    if settings.routing:
        router = ModelRouter.from_settings(settings, first_token_timeout_s=settings.llm_timeout_s / 3)
        services.router = PipelineRouter(router)
