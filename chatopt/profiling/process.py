"""psutil sampling of any process (Python or not): RSS, open file descriptors, threads, CPU."""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil

from chatopt.errors import ChatoptError


@dataclass(frozen=True)
class ProcessSample:
    """One reading of a process, ``at`` seconds on the monotonic clock."""

    at: float
    rss_mb: float
    fds: int | None
    threads: int
    cpu_percent: float


@dataclass(frozen=True)
class Trend:
    """A least-squares line through samples: slope per minute and how well it fits (R squared)."""

    slope_per_min: float
    r_squared: float
    first: float
    last: float


class ProcessSampler:
    """Reads one process repeatedly; raises :class:`ChatoptError` saying what is missing."""

    def __init__(self, pid: int) -> None:
        try:
            self.process = psutil.Process(pid)
            self.name = self.process.name()
            self.process.cpu_percent(None)
        except psutil.NoSuchProcess as exc:
            raise ChatoptError(f"no process with PID {pid}", hint="check the PID with ps or pgrep") from exc
        except psutil.AccessDenied as exc:
            raise ChatoptError(
                f"not allowed to read process {pid}", hint="run as the same user as the process, or with sudo"
            ) from exc

    def sample(self) -> ProcessSample:
        """Read RSS, FDs, threads and CPU share since the previous sample."""
        try:
            with self.process.oneshot():
                rss = self.process.memory_info().rss / 1024 / 1024
                threads = self.process.num_threads()
                cpu = self.process.cpu_percent(None)
                try:
                    fds: int | None = self.process.num_fds()
                except (psutil.AccessDenied, AttributeError):
                    fds = None
        except psutil.NoSuchProcess as exc:
            raise ChatoptError(f"process {self.process.pid} exited while it was being sampled") from exc
        return ProcessSample(time.monotonic(), rss, fds, threads, cpu)

    def runtime(self) -> str | None:
        """A short description of what the process runs (e.g. ``python3.11 uvicorn``), if readable."""
        try:
            command = self.process.cmdline()
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            return None
        text = " ".join(part.rsplit("/", 1)[-1] for part in command[:3]) or self.name
        return text.splitlines()[0][:60]


def trend(points: list[tuple[float, float]]) -> Trend | None:
    """The least-squares slope (per minute) of ``(seconds, value)`` points; None under 3 points."""
    if len(points) < 3:
        return None
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    syy = sum((y - mean_y) ** 2 for y in ys)
    r_squared = (sxy * sxy) / (sxx * syy) if syy else 0.0
    return Trend(slope * 60, r_squared, ys[0], ys[-1])
