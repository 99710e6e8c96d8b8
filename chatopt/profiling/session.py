"""``profile_process``: psutil, py-spy and (opt-in) memray side by side on one process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chatopt.errors import ChatoptError
from chatopt.profiling.memray import AllocationReport, track_allocations
from chatopt.profiling.process import ProcessSample, ProcessSampler, Trend, trend
from chatopt.profiling.pyspy import PySpyProfile, sample_process


@dataclass
class ProcessProfile:
    """Everything ``chatopt profile`` measured; a tool that could not run says why in ``notes``."""

    pid: int
    runtime: str | None
    duration_s: float
    samples: list[ProcessSample]
    rss_trend: Trend | None
    fd_trend: Trend | None
    pyspy: PySpyProfile | None = None
    memray: AllocationReport | None = None
    notes: list[str] = field(default_factory=list)


def is_python(runtime: str | None) -> bool:
    return bool(runtime) and "python" in runtime.lower()


async def profile_process(
    pid: int,
    duration_s: float,
    *,
    rate: int = 100,
    interval_s: float = 0.5,
    use_pyspy: bool = True,
    use_memray: bool = False,
    on_tick: Callable[[float], None] | None = None,
) -> ProcessProfile:
    """Sample ``pid`` for ``duration_s``: psutil always, py-spy for Python, memray when asked."""
    sampler = ProcessSampler(pid)
    runtime = sampler.runtime()
    notes: list[str] = []
    tasks: dict[str, asyncio.Task] = {}
    if use_pyspy and is_python(runtime):
        tasks["pyspy"] = asyncio.create_task(sample_process(pid, duration_s, rate))
    elif use_pyspy:
        notes.append(f"py-spy skipped: {runtime or 'the process'} does not look like Python")
    if use_memray:
        tasks["memray"] = asyncio.create_task(track_allocations(pid, duration_s))
    samples = [sampler.sample()]
    started = time.monotonic()
    while time.monotonic() - started < duration_s:
        await asyncio.sleep(interval_s)
        try:
            samples.append(sampler.sample())
        except ChatoptError as exc:
            notes.append(str(exc))
            break
        if on_tick is not None:
            on_tick(min(time.monotonic() - started, duration_s))
    results: dict[str, object] = {}
    for name, task in tasks.items():
        try:
            results[name] = await task
        except ChatoptError as exc:
            notes.append(f"{name}: {exc}")
    return ProcessProfile(
        pid=pid,
        runtime=runtime,
        duration_s=duration_s,
        samples=samples,
        rss_trend=trend([(s.at - started, s.rss_mb) for s in samples]),
        fd_trend=trend([(s.at - started, float(s.fds)) for s in samples if s.fds is not None]),
        pyspy=results.get("pyspy"),  # type: ignore[arg-type]
        memray=results.get("memray"),  # type: ignore[arg-type]
        notes=notes,
    )
