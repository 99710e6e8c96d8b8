"""``chatopt profile`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatopt.commands.profile import parse_duration
from chatopt.errors import ChatoptError
from tests.profiling.targets import BLOCKING_LOOP, python_process


def test_profile_command_writes_json_and_names_the_blocking_call(tmp_path: Path) -> None:
    out = tmp_path / "profile.json"
    with python_process(BLOCKING_LOOP) as process:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "chatopt",
                "profile",
                "--pid",
                str(process.pid),
                "--duration",
                "2s",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert result.returncode == 0, result.stderr
    assert "handler (<string>:4)" in result.stdout
    data = json.loads(out.read_text())
    assert data["pid"] == process.pid and data["pyspy"]["loop"]["busy_share"] > 0.5


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("2m", 120.0), ("1.5min", 90.0), ("45", 45.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_is_one_clear_line() -> None:
    with pytest.raises(ChatoptError, match="cannot read duration"):
        parse_duration("soon")
    result = subprocess.run(
        [sys.executable, "-m", "chatopt", "profile", "--pid", "1", "--duration", "0.2s"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "too short" in result.stderr and "Traceback" not in result.stderr
