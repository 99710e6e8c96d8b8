"""Sample collection in one generator process: raw rows, in-flight count, live window.

Workers ship their new rows to the master with every locust report, so the master
holds every raw sample and percentiles merge exactly.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import astuple, dataclass

from chatopt.report.samples import Sample, sample_from_exchange
from chatopt.report.stats import summarize
from chatopt.targets import ChatExchange

LIVE_WINDOW_S = 10.0


@dataclass(frozen=True)
class LiveStats:
    """What the progress display shows."""

    elapsed_s: float
    users: int
    requests: int
    errors: int
    rps: float
    p95_ttft_ms: float | None


class Collector:
    """Holds this process's samples and the counters the self-check needs."""

    def __init__(self, *, model: str | None, worker: str = "local") -> None:
        self.model = model
        self.worker = worker
        self.run_start = time.perf_counter()
        self.samples: list[Sample] = []
        self.unsent: list[Sample] = []
        self.accepting = True
        self.schedule_done = False
        self.inflight = 0
        self.arrivals = 0
        self.dropped = 0
        self.late = 0
        self.users = 0
        self.errors = 0
        self._recent: deque[tuple[float, bool, float | None]] = deque()

    def start(self) -> None:
        self.run_start = time.perf_counter()

    def record(self, exchange: ChatExchange, *, conversation: str, turn: int) -> Sample:
        sample = sample_from_exchange(
            exchange,
            run_start=self.run_start,
            model=self.model,
            users=self.users,
            conversation=conversation,
            turn=turn,
            worker=self.worker,
        )
        self.add(sample)
        return sample

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        self.unsent.append(sample)
        self.errors += not sample.ok
        now = time.perf_counter()
        self._recent.append((now, sample.ok, sample.ttft_ms))

    def take_unsent(self) -> list[tuple]:
        """Rows not yet shipped to the master, as plain tuples."""
        rows = [astuple(sample) for sample in self.unsent]
        self.unsent = []
        return rows

    def add_rows(self, rows: list[list | tuple]) -> None:
        """Rows shipped by a worker."""
        for row in rows:
            self.add(Sample(*row))

    def live(self, users: int) -> LiveStats:
        now = time.perf_counter()
        while self._recent and now - self._recent[0][0] > LIVE_WINDOW_S:
            self._recent.popleft()
        window = min(LIVE_WINDOW_S, max(now - self.run_start, 1e-3))
        ttft = summarize([t for _, ok, t in self._recent if ok and t is not None])
        return LiveStats(
            elapsed_s=now - self.run_start,
            users=users,
            requests=len(self.samples),
            errors=self.errors,
            rps=len(self._recent) / window,
            p95_ttft_ms=ttft.p95,
        )
