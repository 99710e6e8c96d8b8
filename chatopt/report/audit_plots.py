"""The audit's two plots: a waterfall of one traced turn, and prompt tokens per turn."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from chatopt.audit.findings import ContextPoint, TurnTrace  # noqa: E402


def _png_data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def waterfall(trace: TurnTrace) -> str:
    """Client -> backend -> AI calls of one turn as horizontal bars (ms from the turn's start)."""
    rows = [("client (total)", 0.0, trace.client_total_ms, trace.client_ttft_ms, "tab:gray")]
    for call in trace.calls:
        color = "tab:blue" if call.status < 400 else "tab:red"
        rows.append((f"AI: {call.label}", call.start_ms, call.end_ms, call.ttft_ms, color))
    figure, axis = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.4))
    for index, (_, start, end, first, color) in enumerate(rows):
        axis.barh(index, max(end - start, 1.0), left=start, color=color, alpha=0.75)
        if first is not None:
            axis.plot([first, first], [index - 0.4, index + 0.4], color="black", linewidth=2)
        axis.text(end, index, f" {end - start:,.0f} ms", va="center", fontsize=8)
    axis.set_yticks(range(len(rows)), [row[0] for row in rows], fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("ms from the user's request (black tick: first token)")
    axis.set_title(trace.label[:90], fontsize=10)
    return _png_data_uri(figure)


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
    return _png_data_uri(figure)
