"""``chatopt bench`` end to end, in a subprocess (locust patches the process for gevent).

Short real runs: against the mock LLM, with two worker processes, open loop against a
target that queues (TTFT counted from the scheduled start), and bad input.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from chatopt.cli import app
from tests.bench.servers import serve
from tests.services import free_port

pytestmark = pytest.mark.slow


def run_cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "chatopt", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture
def serial_profile(tmp_path: Path) -> str:
    """A JSON target that serves one request at a time, 100 ms each."""
    path = tmp_path / "serial.yaml"
    path.write_text("path: /serial\nmode: json\nbody: {m: '{message}'}\nanswer_path: reply\ntimeout_s: 20\n")
    return str(path)


def read_result(directory: Path) -> dict:
    return json.loads((directory / "result.json").read_text())


def test_bench_against_the_mock_llm_writes_every_output(mock_llm, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli(
        "bench",
        mock_llm.url,
        "--target",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--scenario",
        "faq",
        "--users",
        "4",
        "--spawn-rate",
        "50",
        "--duration",
        "2s",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    result = read_result(out)
    assert result["schema"] == "chatopt.result/1"
    assert result["valid"] is True, result["invalid_reasons"]
    assert result["requests"]["total"] > 0 and result["requests"]["failed"] == 0
    for metric in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
        assert set(result["metrics"][metric]) >= {"p50", "p90", "p95", "p99", "mean", "max"}
    ttft, e2e = result["metrics"]["ttft_ms"], result["metrics"]["e2e_ms"]
    assert 0 < ttft["p50"] <= e2e["p50"]
    assert result["tokens"]["source"] == "usage"
    assert result["throughput"]["requests_per_s"] > 0
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == result["requests"]["total"]
    assert "<img" in (out / "report.html").read_text()
    assert "TTFT" in (out / "report.md").read_text()
    assert "pre-flight ok" in proc.stderr


def test_two_worker_processes_merge_their_raw_samples(mock_llm, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli(
        "bench",
        mock_llm.url,
        "--target",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--rate",
        "20",
        "--duration",
        "2s",
        "--workers",
        "2",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    result = read_result(out)
    samples = pd.read_csv(out / "samples.csv")
    assert result["load"]["workers"] == 2
    assert samples["worker"].nunique() == 2
    # every request of both workers is in the merged samples (how many depends on machine load)
    assert len(samples) == result["requests"]["total"] > 0


def test_open_loop_ttft_counts_from_the_scheduled_start(
    backend: str, serial_profile: str, tmp_path: Path
) -> None:
    opened = tmp_path / "open"
    proc = run_cli(
        "bench",
        backend,
        "--target",
        serial_profile,
        "--rate",
        "20",
        "--duration",
        "1.5s",
        "--out",
        str(opened),
    )
    assert proc.returncode == 0, proc.stderr
    samples = pd.read_csv(opened / "samples.csv").sort_values("t_s")
    # every request's clock started at its scheduled time, k/20 s into the run
    assert samples["t_s"].tolist() == pytest.approx([(k + 1) / 20 for k in range(len(samples))], abs=1e-5)
    # the target serves one request per 100 ms (10/s); at 20/s arrivals queue up behind each
    # other and that wait is part of TTFT, so most requests take several service times
    result = read_result(opened)
    assert result["metrics"]["ttft_ms"]["p50"] > 3 * 100
    assert result["metrics"]["ttft_ms"]["p95"] > result["metrics"]["ttft_ms"]["p50"]
    assert result["requests"]["failed"] == 0


def test_dropped_arrivals_make_the_run_invalid(backend: str, serial_profile: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run_cli(
        "bench",
        backend,
        "--target",
        serial_profile,
        "--rate",
        "20",
        "--duration",
        "1s",
        "--max-inflight",
        "2",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    result = read_result(out)
    assert result["valid"] is False
    assert result["generator"]["dropped_arrivals"] > 0
    assert any("dropped" in reason for reason in result["invalid_reasons"])
    assert "INVALID" in proc.stderr


def test_bad_input_fails_fast_with_what_to_fix(tmp_path: Path) -> None:
    # these fail before any load starts, so they run in-process (nothing is patched for gevent)
    from chatopt.errors import ChatoptError

    runner = CliRunner()
    out = tmp_path / "x"
    with pytest.raises(ChatoptError, match="cannot reach") as error:
        runner.invoke(
            app,
            [
                "bench",
                f"http://127.0.0.1:{free_port()}",
                "--target",
                "openai",
                "--users",
                "1",
                "--duration",
                "1s",
                "--out",
                str(out),
            ],
            catch_exceptions=False,
        )
    assert error.value.exit_code == 2
    assert not out.exists()
    with pytest.raises(ChatoptError, match="unknown scenario"):
        runner.invoke(app, ["bench", "http://127.0.0.1:1", "--scenario", "nope"], catch_exceptions=False)
    with pytest.raises(ChatoptError, match="give the chat backend URL"):
        runner.invoke(app, ["bench"], catch_exceptions=False)
    with pytest.raises(ChatoptError, match="bad duration"):
        runner.invoke(app, ["soak", "http://127.0.0.1:1", "--duration", "soon"], catch_exceptions=False)
    with pytest.raises(ChatoptError, match="bad --pid"):
        runner.invoke(app, ["soak", "http://127.0.0.1:1", "--pid", "abc"], catch_exceptions=False)
    with pytest.raises(ChatoptError, match="SLO"):
        runner.invoke(app, ["stress", "http://127.0.0.1:1", "--slo", "fast please"], catch_exceptions=False)


def test_main_prints_one_line_without_traceback(monkeypatch, capsys) -> None:
    from chatopt.cli import main

    monkeypatch.setattr(sys, "argv", ["chatopt", "bench", f"http://127.0.0.1:{free_port()}", "--users", "1"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert "error:" in stderr and "cannot reach" in stderr and "Traceback" not in stderr


def test_ctrl_c_stops_cleanly_and_still_writes_the_report(mock_llm, tmp_path: Path) -> None:
    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chatopt",
                "bench",
                mock_llm.url,
                "--target",
                "openai",
                "--model",
                "gpt-4o-mini",
                "--users",
                "3",
                "--duration",
                "60s",
                "--out",
                str(out),
            ],
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 30
            while "pre-flight ok" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(4)  # the load is running by now
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    result = read_result(out)
    assert result["interrupted"] is True and result["valid"] is False
    assert any("interrupted" in reason for reason in result["invalid_reasons"])
    assert result["duration_s"] < 30 and result["requests"]["total"] > 0
    assert (out / "report.html").exists() and (out / "samples.csv").exists()
