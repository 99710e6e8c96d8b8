"""Plots for the HTML reports (matplotlib, rendered off-screen to embeddable PNG data URIs)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from chatopt.report.result import metric_values  # noqa: E402
from chatopt.report.samples import Sample  # noqa: E402


def data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def latency_over_time(samples: Sequence[Sample]) -> str | None:
    """TTFT and E2E of every request against when it started, with a per-second P95 line."""
    ok = [s for s in samples if s.ok and s.ttft_ms is not None]
    if not ok:
        return None
    figure, axis = plt.subplots(figsize=(9, 3.6))
    times = np.array([s.t_s for s in ok])
    axis.scatter(times, [s.e2e_ms for s in ok], s=3, alpha=0.25, label="E2E", color="tab:gray")
    axis.scatter(times, [s.ttft_ms for s in ok], s=3, alpha=0.4, label="TTFT", color="tab:blue")
    seconds = np.floor(times).astype(int)
    ttft = np.array([s.ttft_ms for s in ok])
    xs = sorted(set(seconds.tolist()))
    axis.plot(xs, [np.percentile(ttft[seconds == x], 95) for x in xs], color="tab:red", label="P95 TTFT / s")
    failed = [s.t_s for s in samples if not s.ok]
    if failed:
        axis.scatter(failed, [0] * len(failed), marker="x", color="black", s=12, label="failed")
    axis.set_xlabel("seconds into the run")
    axis.set_ylabel("ms")
    axis.set_title("Latency over time")
    axis.legend(loc="upper left", fontsize=8, markerscale=3)
    return data_uri(figure)


def percentile_curves(
    runs: Mapping[str, Sequence[Sample]], metrics: Sequence[str] = ("ttft_ms", "e2e_ms")
) -> str:
    """Latency at every percentile (the CDF turned sideways); one line per run, overlaid."""
    figure, axes = plt.subplots(1, len(metrics), figsize=(9, 3.6), squeeze=False)
    quantiles = np.linspace(0, 99.9, 400)
    for axis, metric in zip(axes[0], metrics, strict=True):
        for label, samples in runs.items():
            values = metric_values(samples, metric)
            if values:
                axis.plot(quantiles, np.percentile(values, quantiles), label=label)
        axis.set_xlabel("percentile")
        axis.set_ylabel("ms")
        axis.set_title(metric.replace("_ms", "").upper())
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return data_uri(figure)


def load_curve(rows: Sequence[Mapping[str, float | None]], load_label: str) -> str:
    """Stress curve: throughput and P95 TTFT against the offered load of each step."""
    figure, axis = plt.subplots(figsize=(9, 3.6))
    loads = [row["load"] for row in rows]
    axis.plot(
        loads, [row["requests_per_s"] for row in rows], marker="o", color="tab:green", label="requests/s"
    )
    axis.set_xlabel(load_label)
    axis.set_ylabel("requests/s")
    other = axis.twinx()
    other.plot(loads, [row["p95_ttft_ms"] for row in rows], marker="s", color="tab:red", label="P95 TTFT")
    other.set_ylabel("P95 TTFT ms")
    axis.set_title("Throughput and latency vs load")
    figure.legend(loc="upper left", fontsize=8)
    return data_uri(figure)


def series(points: Sequence[tuple[float, float]], *, title: str, xlabel: str, ylabel: str) -> str:
    """A plain line plot (soak resources over time)."""
    figure, axis = plt.subplots(figsize=(9, 3.2))
    axis.plot([p[0] for p in points], [p[1] for p in points])
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    return data_uri(figure)
