"""P3 dynamic model routing: classify, route to small/medium/large, escalate and fall back."""

from reference_server.routing.classifier import RouteDecision, classify
from reference_server.routing.router import ModelRouter, RoutedLLM, RouteOutcome, RoutePlan

__all__ = ["ModelRouter", "RouteDecision", "RouteOutcome", "RoutePlan", "RoutedLLM", "classify"]
