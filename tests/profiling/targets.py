"""Small Python processes to profile: one blocks its event loop, one does not, one leaks."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

BLOCKING_LOOP = """
import asyncio, time
async def handler():
    time.sleep(0.05)  # BLOCKING-LINE
    await asyncio.sleep(0.005)
async def main():
    while True:
        await handler()
asyncio.run(main())
"""

HEALTHY_LOOP = """
import asyncio
async def main():
    while True:
        await asyncio.sleep(0.05)
asyncio.run(main())
"""

LEAKING = """
import time
kept = []
while True:
    kept.append(bytearray(256 * 1024))  # LEAK-LINE
    time.sleep(0.02)
"""


@contextmanager
def python_process(code: str) -> Iterator[subprocess.Popen]:
    """Run ``code`` in a child Python; kill it afterwards."""
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.8)  # let the interpreter start before sampling it
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
