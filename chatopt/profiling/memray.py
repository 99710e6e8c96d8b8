"""Opt-in allocation tracking of a running Python process with ``memray attach``.

``memray attach`` injects the tracker through a debugger (gdb or lldb) and needs
ptrace rights on the process; the target must be able to import ``memray`` (same
environment). Each missing piece is reported as a clear :class:`ChatoptError`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chatopt.errors import ChatoptError


@dataclass
class AllocationReport:
    """What the process allocated while tracked (bytes are converted to MB)."""

    duration_s: float
    allocations: int
    allocated_mb: float
    peak_mb: float
    top_by_size: list[tuple[str, float]] = field(default_factory=list)
    top_by_count: list[tuple[str, int]] = field(default_factory=list)


def find_memray() -> str:
    """The memray binary, after checking a debugger to inject it with is installed."""
    if shutil.which("gdb") is None and shutil.which("lldb") is None:
        raise ChatoptError(
            "memray attach needs gdb or lldb to inject its tracker, and neither is installed",
            hint="install one (apt-get install gdb), or profile without --memray",
        )
    binary = shutil.which("memray") or str(Path(sys.executable).with_name("memray"))
    if not Path(binary).exists():
        raise ChatoptError("memray is not installed", hint="pip install memray")
    return binary


async def _run(*command: str, timeout_s: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    return process.returncode or 0, output.decode(errors="replace")


async def track_allocations(pid: int, duration_s: float) -> AllocationReport:
    """Attach memray to ``pid`` for ``duration_s`` seconds and summarize what it allocated."""
    binary = find_memray()
    with tempfile.TemporaryDirectory(prefix="chatopt-memray-") as directory:
        capture, stats = Path(directory) / "capture.bin", Path(directory) / "stats.json"
        code, output = await _run(
            binary,
            "attach",
            "-o",
            str(capture),
            "-f",
            "--duration",
            str(max(1, round(duration_s))),
            str(pid),
            timeout_s=60,
        )
        if code != 0:
            raise _explain(pid, output)
        await asyncio.sleep(duration_s + 1.5)  # tracking runs inside the process for duration_s
        code, output = await _run(
            binary, "stats", "--json", "-o", str(stats), "-f", str(capture), timeout_s=120
        )
        if code != 0:
            raise ChatoptError(f"memray could not read its capture: {output.strip()[-300:]}")
        data = json.loads(await asyncio.to_thread(stats.read_text, encoding="utf-8"))
    metadata = data.get("metadata") or {}
    megabyte = 1024 * 1024
    return AllocationReport(
        duration_s=duration_s,
        allocations=int(data.get("total_num_allocations", 0)),
        allocated_mb=round(data.get("total_bytes_allocated", 0) / megabyte, 2),
        peak_mb=round(metadata.get("peak_memory", 0) / megabyte, 2),
        top_by_size=[
            (item["location"], round(item["size"] / megabyte, 2))
            for item in data.get("top_allocations_by_size", [])[:8]
        ],
        top_by_count=[
            (item["location"], int(item["count"])) for item in data.get("top_allocations_by_count", [])[:8]
        ],
    )


def _explain(pid: int, output: str) -> ChatoptError:
    text = output.strip()
    lowered = text.lower()
    if "permission" in lowered or "ptrace" in lowered or "not permitted" in lowered:
        return ChatoptError(
            f"memray may not attach to PID {pid}: {text.splitlines()[-1] if text else ''}",
            hint="run as root or with CAP_SYS_PTRACE (Docker: --cap-add SYS_PTRACE), or set "
            "kernel.yama.ptrace_scope=0",
        )
    if "no module named" in lowered or "memray" in lowered and "import" in lowered:
        return ChatoptError(
            f"the process {pid} cannot import memray",
            hint="install memray in the environment the backend runs in",
        )
    return ChatoptError(
        f"memray attach to PID {pid} failed: {text[-300:]}",
        hint="check that it is a Python process and gdb/lldb work here",
    )
