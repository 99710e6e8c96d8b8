"""The audit's two plots: a waterfall of one traced turn, and prompt tokens per turn."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from chatopt.audit.findings import ContextPoint, TurnTrace  # noqa: E402
from chatopt.report.plots import data_uri  # noqa: E402


def waterfall(trace: TurnTrace) -> str:
    """Client -> backend -> AI calls of one turn as horizontal bars (ms from the turn's start).

    The backend row is the time the backend spent on its own: before its first AI call
    and after its last one (reading history, writing it, building the prompt, relaying).
    AI calls still running after the user had the whole answer are background work
    (summaries, for one) and are labelled so.
    """
    total = trace.client_total_ms
    foreground = [call for call in trace.calls if call.end_ms <= total]
    labels = ["client (total)", "backend (own time)"] + [
        f"AI: {call.label}" if call in foreground else f"AI (background): {call.label}"
        for call in trace.calls
    ]
    figure, axis = plt.subplots(figsize=(9, 0.6 * len(labels) + 1.4))
    axis.barh(0, max(total, 1.0), color="tab:gray", alpha=0.75)
    axis.text(total, 0, f" {total:,.0f} ms", va="center", fontsize=8)
    if trace.client_ttft_ms is not None:
        axis.plot([trace.client_ttft_ms] * 2, [-0.4, 0.4], color="black", linewidth=2)
    if foreground:
        first_start = min(call.start_ms for call in foreground)
        last_end = max(call.end_ms for call in foreground)
        spans = [(0.0, max(first_start, 0.0)), (last_end, max(total - last_end, 0.0))]
    else:
        spans = [(0.0, total)]
    axis.broken_barh(spans, (0.6, 0.8), color="tab:orange", alpha=0.75)
    axis.text(total, 1, f" {sum(width for _, width in spans):,.0f} ms", va="center", fontsize=8)
    for index, call in enumerate(trace.calls, start=2):
        color = "tab:blue" if call.status < 400 else "tab:red"
        axis.barh(index, max(call.end_ms - call.start_ms, 1.0), left=call.start_ms, color=color, alpha=0.75)
        if call.ttft_ms is not None:
            axis.plot([call.ttft_ms] * 2, [index - 0.4, index + 0.4], color="black", linewidth=2)
        axis.text(call.end_ms, index, f" {call.end_ms - call.start_ms:,.0f} ms", va="center", fontsize=8)
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("ms from the user's request (black tick: first token)")
    axis.set_title(trace.label[:90], fontsize=10)
    return data_uri(figure)


def context_growth(points: list[ContextPoint]) -> str:
    """Prompt tokens the AI received on each turn of the scripted conversation."""
    figure, axis = plt.subplots(figsize=(9, 3.4))
    turns = [point.turn for point in points]
    tokens = [point.prompt_tokens for point in points]
    axis.plot(turns, tokens, marker="o", color="tab:purple")
    for turn, value in zip(turns, tokens, strict=True):
        axis.annotate(
            f"{value:,}", (turn, value), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8
        )
    axis.set_xlabel("turn")
    axis.set_ylabel("prompt tokens")
    axis.set_title(f"Context growth (source: {points[-1].source})" if points else "Context growth")
    axis.set_xticks(turns)
    axis.set_ylim(bottom=0)
    return data_uri(figure)
