"""psutil, py-spy and memray on processes whose behaviour the test controls."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from chatopt.errors import ChatoptError
from chatopt.profiling.process import ProcessSampler, trend
from chatopt.profiling.pyspy import parse_raw
from chatopt.profiling.session import profile_process
from tests.profiling.targets import BLOCKING_LOOP, HEALTHY_LOOP, LEAKING, python_process

pytestmark = pytest.mark.slow


def test_psutil_sees_a_leaking_process_grow() -> None:
    with python_process(LEAKING) as process:
        result = asyncio.run(profile_process(process.pid, 2.0, interval_s=0.2, use_pyspy=False))
    assert result.rss_trend is not None and result.rss_trend.slope_per_min > 0
    assert result.samples[-1].rss_mb > result.samples[0].rss_mb
    assert result.samples[0].threads >= 1 and result.samples[0].fds is not None


def test_trend_fits_a_line() -> None:
    line = trend([(0.0, 10.0), (30.0, 11.0), (60.0, 12.0)])
    assert (
        line is not None and line.slope_per_min == pytest.approx(2.0) and line.r_squared == pytest.approx(1.0)
    )
    assert trend([(0.0, 1.0)]) is None


def test_a_missing_process_is_a_clear_error() -> None:
    with python_process("pass") as process:
        process.wait(timeout=10)
        with pytest.raises(ChatoptError, match="no process with PID"):
            ProcessSampler(process.pid)


def test_pyspy_tells_a_blocked_event_loop_from_a_healthy_one() -> None:
    with python_process(BLOCKING_LOOP) as blocking, python_process(HEALTHY_LOOP) as healthy:
        blocked_profile, healthy_profile = asyncio.run(_both(blocking.pid, healthy.pid))
    blocked_loop, healthy_loop = blocked_profile.pyspy.loop, healthy_profile.pyspy.loop
    assert blocked_loop is not None and healthy_loop is not None
    assert blocked_loop.busy_share > 0.5 > healthy_loop.busy_share
    top_call, _ = blocked_loop.blocking_calls[0]
    assert top_call.startswith("handler (<string>:4)")


async def _both(first: int, second: int):
    return await asyncio.gather(profile_process(first, 2.0), profile_process(second, 2.0))


def test_raw_stacks_parse_per_thread() -> None:
    samples = parse_raw(
        "thread (12): MainThread;<module> (app.py:3);main (app.py:9) 7\n"
        "thread (13): worker;_bootstrap (threading.py:1);run (w.py:2) 2\nnot a stack line\n"
    )
    assert [(s.thread, s.leaf, s.count) for s in samples] == [
        ("thread (12): MainThread", "main (app.py:9)", 7),
        ("thread (13): worker", "run (w.py:2)", 2),
    ]


@pytest.mark.skipif(
    shutil.which("gdb") is None and shutil.which("lldb") is None, reason="memray needs gdb or lldb"
)
def test_memray_attach_names_the_allocating_line() -> None:
    with python_process(LEAKING) as process:
        result = asyncio.run(profile_process(process.pid, 2.0, use_pyspy=False, use_memray=True))
    assert result.memray is not None, result.notes
    location, size = result.memray.top_by_size[0]
    assert location == "<module>:<string>:5" and size > 1


def test_memray_without_a_debugger_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatopt.profiling import memray

    monkeypatch.setattr(memray.shutil, "which", lambda name: None)
    with pytest.raises(ChatoptError, match="needs gdb or lldb") as caught:
        memray.find_memray()
    assert "apt-get install gdb" in str(caught.value)


def test_pyspy_permission_errors_name_the_missing_privilege() -> None:
    from chatopt.profiling.pyspy import _explain

    error = _explain(42, "Error: Operation not permitted (os error 1)")
    assert "CAP_SYS_PTRACE" in str(error) and "42" in error.message
