"""Soak: hours of steady load while watching the target's processes for leaks.

During the run :class:`SoakMonitor` samples RSS, CPU, open FDs and threads of every
``--pid`` and, every checkpoint interval, appends the new raw samples and resource
readings to CSV files and rewrites a small ``checkpoint.json`` - cheap appends, so the
load generator never stalls, and a crash loses at most one interval. At the end the
resource series are fitted against requests served (:mod:`chatopt.bench.leak`), and
memray can be attached to each target for a few seconds for an allocation snapshot.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from chatopt.bench.leak import MIN_REQUESTS, LeakVerdict, judge_leaks
from chatopt.profiling.process import ProcessSampler
from chatopt.report.samples import SAMPLE_COLUMNS, Sample
from chatopt.report.stats import summarize


@dataclass(frozen=True)
class ResourcePoint:
    """One reading of one target process."""

    t_s: float
    requests: int
    pid: int
    rss_mb: float
    fds: int | None
    threads: int
    cpu_percent: float


class SoakMonitor:
    """Called on every tick of the run loop: samples processes, writes checkpoints."""

    def __init__(
        self,
        out_dir: Path,
        pids: Sequence[int],
        *,
        sample_every_s: float,
        checkpoint_every_s: float,
    ) -> None:
        self.out_dir = out_dir
        self.samplers = {pid: ProcessSampler(pid) for pid in pids}
        self.sample_every_s = sample_every_s
        self.checkpoint_every_s = checkpoint_every_s
        self.points: list[ResourcePoint] = []
        self.checkpoints = 0
        self.exited: set[int] = set()
        self._last_sample = -float("inf")
        self._last_checkpoint = 0.0
        self._samples_written = 0
        self._points_written = 0
        out_dir.mkdir(parents=True, exist_ok=True)
        self.samples_path = out_dir / "samples.csv"
        self.resources_path = out_dir / "resources.csv"
        self._write_header(self.samples_path, SAMPLE_COLUMNS)
        self._write_header(self.resources_path, tuple(f.name for f in fields(ResourcePoint)))

    @staticmethod
    def _write_header(path: Path, columns: Sequence[str]) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(columns)

    def tick(self, samples: list[Sample], elapsed_s: float) -> None:
        if elapsed_s - self._last_sample >= self.sample_every_s:
            self._last_sample = elapsed_s
            self.sample(len(samples), elapsed_s)
        if elapsed_s - self._last_checkpoint >= self.checkpoint_every_s:
            self._last_checkpoint = elapsed_s
            self.checkpoint(samples, elapsed_s)

    def sample(self, requests: int, elapsed_s: float) -> None:
        for pid, sampler in self.samplers.items():
            if pid in self.exited:
                continue
            try:
                reading = sampler.sample()
            except Exception:  # the target exited: that is a finding, not a crash of the soak
                self.exited.add(pid)
                continue
            self.points.append(
                ResourcePoint(
                    round(elapsed_s, 3),
                    requests,
                    pid,
                    reading.rss_mb,
                    reading.fds,
                    reading.threads,
                    reading.cpu_percent,
                )
            )

    def checkpoint(self, samples: list[Sample], elapsed_s: float) -> None:
        """Append what is new since the last checkpoint; rewrite checkpoint.json."""
        with self.samples_path.open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(astuple(s) for s in samples[self._samples_written :])
        self._samples_written = len(samples)
        with self.resources_path.open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(astuple(p) for p in self.points[self._points_written :])
        self._points_written = len(self.points)
        self.checkpoints += 1
        recent = samples[-2000:]
        state = {
            "elapsed_s": round(elapsed_s, 1),
            "requests": len(samples),
            "failed": sum(1 for s in samples if not s.ok),
            "recent_p95_ttft_ms": summarize(
                [s.ttft_ms for s in recent if s.ok and s.ttft_ms is not None]
            ).p95,
            "latest_resources": [p.__dict__ for p in self.points[-len(self.samplers) :]]
            if self.points
            else [],
            "exited_pids": sorted(self.exited),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        tmp = self.out_dir / "checkpoint.json.tmp"
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(self.out_dir / "checkpoint.json")

    def series(self) -> dict[str, list[tuple[float, float]]]:
        """Resource series against requests served, one per process and measure."""
        out: dict[str, list[tuple[float, float]]] = {}
        for point in self.points:
            out.setdefault(f"rss_mb:{point.pid}", []).append((point.requests, point.rss_mb))
            out.setdefault(f"threads:{point.pid}", []).append((point.requests, point.threads))
            if point.fds is not None:
                out.setdefault(f"fds:{point.pid}", []).append((point.requests, point.fds))
        return out


def latency_series(samples: Sequence[Sample], windows: int = 40) -> list[tuple[float, float]]:
    """P95 TTFT per window of requests, against requests served (drift over the soak)."""
    ok = [s for s in samples if s.ok and s.ttft_ms is not None]
    if len(ok) < windows:
        return []
    size = len(ok) // windows
    points = []
    for index in range(windows):
        chunk = ok[index * size : (index + 1) * size]
        p95 = summarize([s.ttft_ms for s in chunk]).p95
        if p95 is not None:
            points.append(((index + 1) * size, p95))
    return points


def soak_verdict(
    monitor: SoakMonitor, samples: Sequence[Sample], warmup_fraction: float, min_requests: int = MIN_REQUESTS
) -> LeakVerdict:
    series = monitor.series()
    series["p95_ttft_ms"] = latency_series(samples)
    return judge_leaks(series, warmup_fraction=warmup_fraction, min_requests=min_requests)


def attach_memray(pid: int, out_dir: Path, seconds: int = 10) -> str:
    """Attach memray to a running Python process for a few seconds; returns what happened."""
    output = out_dir / f"memray-{pid}.bin"
    command = [
        sys.executable,
        "-m",
        "memray",
        "attach",
        "--duration",
        str(seconds),
        "-o",
        str(output),
        "-f",
        str(pid),
    ]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"memray attach to {pid} failed: {exc}"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return f"memray attach to {pid} failed: {detail[-1] if detail else proc.returncode}"
    return f"memray snapshot of {pid}: {output.name} (see: memray summary {output.name})"
