"""py-spy sampling of a running Python process: top functions and what its event-loop thread does.

Two ``py-spy record`` runs go side by side (both ``--nonblocking``, raw format, per
thread): one without ``--idle`` sees where CPU goes; one with ``--idle`` sees every
sample of every thread, so the event-loop thread's time splits into *waiting* (in the
selector: healthy) and *busy* (running callbacks, or stuck in a blocking call). Busy
samples whose stack holds a synchronous I/O call (a sync DB driver, ``requests``,
``socket``...) are the "sync I/O on the loop" that SPEC P5 forbids.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chatopt.errors import ChatoptError

_FRAME = re.compile(r"^(?P<name>.+?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

#: A loop thread waiting for events has one of these as its innermost frame.
_WAITING = (
    ("select", "selectors.py"),
    ("run_forever", "asyncio/base_events.py"),
    ("run_until_complete", "asyncio/base_events.py"),
    ("run", "asyncio/runners.py"),
)
#: Frames that mark a thread as running an asyncio event loop.
_LOOP_MARKERS = ("asyncio/base_events.py", "asyncio/runners.py", "uvloop")
#: Synchronous I/O, by file: calling any of these on the loop thread blocks it.
_SYNC_IO = (
    "sqlalchemy/engine/",
    "sqlite3/",
    "psycopg2",
    "psycopg/cursor.py",
    "psycopg/connection.py",
    "pymysql",
    "requests/",
    "urllib3/",
    "http/client.py",
    "socket.py",
    "ssl.py",
    "urllib/request.py",
    "httpx/_transports/default.py",
    "redis/connection.py",
    "subprocess.py",
    "shutil.py",
)
#: ...unless the same stack shows it is the async flavour (awaited through a greenlet or an async driver).
_ASYNC_FLAVOUR = (
    "aiosqlite",
    "asyncpg",
    "await_only",
    "greenlet",
    "_concurrency_py3k",
    "redis/asyncio",
    "cursor_async.py",
    "connection_async.py",
)


@dataclass(frozen=True)
class StackSample:
    """One distinct stack of one thread (root first) and how many samples had it."""

    thread: str
    frames: tuple[str, ...]
    count: int

    @property
    def leaf(self) -> str:
        return self.frames[-1] if self.frames else "?"


@dataclass
class LoopThread:
    """What the event-loop thread did: waiting, busy, and busy in sync I/O (shares of its samples)."""

    thread: str
    samples: int
    busy_share: float
    cpu_share: float | None
    sync_io_share: float
    sync_io_calls: list[tuple[str, int]] = field(default_factory=list)
    busy_functions: list[tuple[str, int]] = field(default_factory=list)
    blocking_calls: list[tuple[str, int]] = field(default_factory=list)

    @property
    def blocked_share(self) -> float | None:
        """Busy but not on the CPU: stuck in a blocking call (sleep, disk, network, a lock)."""
        return None if self.cpu_share is None else max(self.busy_share - self.cpu_share, 0.0)


@dataclass
class PySpyProfile:
    """A sampled profile: the hottest functions (CPU) and the event-loop thread's story."""

    duration_s: float
    rate: int
    cpu_samples: int
    top_functions: list[tuple[str, int]]
    loop: LoopThread | None
    threads: int


def find_py_spy() -> str:
    """The py-spy binary, or a clear error naming what to install."""
    binary = shutil.which("py-spy")
    if binary is None:
        venv_binary = Path(sys.executable).with_name("py-spy")
        if venv_binary.exists():
            return str(venv_binary)
        raise ChatoptError("py-spy is not installed", hint="pip install py-spy")
    return binary


def parse_raw(text: str) -> list[StackSample]:
    """Parse py-spy's raw (collapsed) output recorded with ``--threads``."""
    samples = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = stack.split(";")
        thread = parts[0] if parts[0].startswith("thread (") else "thread (?)"
        frames = tuple(parts[1:] if parts[0].startswith("thread (") else parts)
        samples.append(StackSample(thread=thread, frames=frames, count=int(count)))
    return samples


def _file_of(frame: str) -> str:
    match = _FRAME.match(frame)
    return match.group("file") if match else frame


def _name_of(frame: str) -> str:
    match = _FRAME.match(frame)
    return match.group("name") if match else frame


def _is_waiting(sample: StackSample) -> bool:
    name, file = _name_of(sample.leaf).rsplit(".", 1)[-1], _file_of(sample.leaf)
    return any(name == wait_name and file.endswith(wait_file) for wait_name, wait_file in _WAITING)


def _is_thread_stack(frames: tuple[str, ...]) -> bool:
    """A real thread's stack starts at a module, ``python -m`` or a thread bootstrap; greenlets do not."""
    names = [_name_of(frame) for frame in frames[:3]]
    return any(name in ("<module>", "_run_module_as_main") or name.endswith("_bootstrap") for name in names)


def _sync_io_frame(sample: StackSample) -> str | None:
    """The outermost sync-I/O frame of a stack (the call the app made), unless it is the async flavour.

    SQLAlchemy's asyncio mode runs its sync code in a greenlet that the loop awaits; such a
    stack does not start at the thread's root, and its driver I/O happens elsewhere.
    """
    if not _is_thread_stack(sample.frames):
        return None
    if any(marker in frame for frame in sample.frames for marker in _ASYNC_FLAVOUR):
        return None
    for frame in sample.frames:
        if any(marker in _file_of(frame) for marker in _SYNC_IO):
            return frame
    return None


def loop_thread(samples: list[StackSample]) -> str | None:
    """The thread running the asyncio event loop (the one with most loop-marked samples)."""
    counts: Counter[str] = Counter()
    for sample in samples:
        if any(marker in frame for frame in sample.frames for marker in _LOOP_MARKERS):
            counts[sample.thread] += sample.count
    return counts.most_common(1)[0][0] if counts else None


def analyze(
    cpu: list[StackSample], every: list[StackSample], *, duration_s: float, rate: int
) -> PySpyProfile:
    """Top functions from the CPU run; the loop thread's split from the run that includes idle samples."""
    by_function: Counter[str] = Counter()
    for sample in cpu:
        if not _is_waiting(sample):
            by_function[sample.leaf] += sample.count
    loop_name = loop_thread(every) or loop_thread(cpu)
    loop = None
    if loop_name is not None:
        mine = [s for s in every if s.thread == loop_name]
        total = sum(s.count for s in mine)
        busy = [s for s in mine if not _is_waiting(s)]
        busy_total = sum(s.count for s in busy)
        sync_calls: Counter[str] = Counter()
        busy_functions: Counter[str] = Counter()
        for sample in busy:
            busy_functions[sample.leaf] += sample.count
            frame = _sync_io_frame(sample)
            if frame is not None:
                sync_calls[frame] += sample.count
        cpu_on_loop = sum(s.count for s in cpu if s.thread == loop_name)
        cpu_by_leaf: Counter[str] = Counter()
        for sample in cpu:
            if sample.thread == loop_name:
                cpu_by_leaf[sample.leaf] += sample.count
        blocking = Counter(
            {leaf: n - cpu_by_leaf[leaf] for leaf, n in busy_functions.items() if n > cpu_by_leaf[leaf]}
        )
        expected = duration_s * rate
        loop = LoopThread(
            thread=loop_name,
            samples=total,
            busy_share=busy_total / total if total else 0.0,
            cpu_share=min(cpu_on_loop / expected, 1.0) if expected else None,
            sync_io_share=sum(sync_calls.values()) / total if total else 0.0,
            sync_io_calls=sync_calls.most_common(8),
            busy_functions=busy_functions.most_common(8),
            blocking_calls=blocking.most_common(8),
        )
    return PySpyProfile(
        duration_s=duration_s,
        rate=rate,
        cpu_samples=sum(s.count for s in cpu),
        top_functions=by_function.most_common(15),
        loop=loop,
        threads=len({s.thread for s in every} | {s.thread for s in cpu}),
    )


async def _record(binary: str, pid: int, duration_s: float, rate: int, idle: bool, out: Path) -> str:
    command = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(duration_s))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--threads",
        "--nonblocking",
        "--output",
        str(out),
    ]
    if idle:
        command.append("--idle")
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=duration_s + 30)
    message = stderr.decode(errors="replace")
    if process.returncode != 0:
        raise _explain(pid, message)
    return await asyncio.to_thread(_read_text, out)


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _explain(pid: int, message: str) -> ChatoptError:
    lowered = message.lower()
    last_line = message.strip().splitlines()[-1] if message.strip() else ""
    if "permission" in lowered or "operation not permitted" in lowered or "ptrace" in lowered:
        return ChatoptError(
            f"py-spy may not read process {pid}: {last_line}",
            hint="run as root or the process's user with CAP_SYS_PTRACE (in Docker: --cap-add SYS_PTRACE), "
            "or set kernel.yama.ptrace_scope=0",
        )
    if "no such process" in lowered or "failed to find" in lowered:
        return ChatoptError(
            f"no Python process with PID {pid}", hint="check the PID; py-spy needs a Python process"
        )
    return ChatoptError(f"py-spy failed on PID {pid}: {message.strip()[-300:]}")


async def sample_process(pid: int, duration_s: float, rate: int = 100) -> PySpyProfile:
    """Sample ``pid`` for ``duration_s`` seconds with two side-by-side py-spy runs."""
    binary = find_py_spy()
    with tempfile.TemporaryDirectory(prefix="chatopt-pyspy-") as directory:
        cpu_text, every_text = await asyncio.gather(
            _record(binary, pid, duration_s, rate, False, Path(directory) / "cpu.txt"),
            _record(binary, pid, duration_s, rate, True, Path(directory) / "all.txt"),
        )
    return analyze(parse_raw(cpu_text), parse_raw(every_text), duration_s=duration_s, rate=rate)
