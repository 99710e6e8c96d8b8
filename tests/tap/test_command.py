"""``chatopt tap`` from the command line: listens, forwards, writes the trace, stops on time."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chatopt.tap import Fault, parse_fault, read_trace
from tests.services import free_port, wait_for_port
from tests.tap.helpers import fake_openai_app, serve


def test_tap_command_records_a_call_to_its_trace_file(tmp_path: Path) -> None:
    trace = tmp_path / "calls.jsonl"
    port = free_port()
    with serve(fake_openai_app()) as upstream:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chatopt",
                "tap",
                "--upstream",
                upstream + "/v1",
                "--port",
                str(port),
                "--trace",
                str(trace),
                "--duration",
                "60",
                "--fault",
                "503",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port("127.0.0.1", port)
            body = {"model": "small", "messages": [{"role": "user", "content": "hi"}]}
            with httpx.Client(timeout=10) as client:
                failed = client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
                ok = client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
            process.send_signal(signal.SIGINT)  # Ctrl-C: stop, flush the trace, print the count
            output, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert (failed.status_code, ok.status_code) == (503, 200)
    assert process.returncode == 0, output
    assert [call.status for call in read_trace(trace)] == [503, 200]
    assert b"2 AI calls recorded" in output


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("503", Fault(status=503)),
        ("500x3", Fault(status=500, count=3)),
        ("delay=2.5x2", Fault(delay_s=2.5, count=2)),
    ],
)
def test_fault_specs(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected


def test_a_bad_fault_spec_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="use 500, 503x3, delay=35 or delay=35x2"):
        parse_fault("boom")
