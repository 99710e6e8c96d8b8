"""``chatopt stress`` and ``chatopt soak`` end to end, in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.bench.servers import serve
from tests.bench.test_bench_cli import run_cli
from tests.services import free_port, wait_for_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    with serve() as url:
        yield url


@pytest.fixture
def leaky_server() -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.bench.leaky_server", str(port)])
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


def test_stress_finds_the_highest_load_meeting_the_slo(backend: str, tmp_path: Path) -> None:
    profile = tmp_path / "serial.yaml"
    profile.write_text(
        "path: /serial\nmode: json\nbody: {m: '{message}'}\nanswer_path: reply\ntimeout_s: 20\n"
    )
    out = tmp_path / "stress"
    proc = run_cli(
        "stress",
        backend,
        "--target",
        str(profile),
        "--slo",
        "p95_ttft<=600ms,error_rate<=1%",
        "--start-rate",
        "4",
        "--step-rate",
        "26",
        "--max-rate",
        "60",
        "--step-duration",
        "1.5s",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    stress = result["extra"]["stress"]
    # the target serves 10 req/s: 4/s meets the SLO, 30/s queues far past 600 ms and stops the sweep
    assert [step["load"] for step in stress["steps"]] == [4, 30]
    assert [step["met"] for step in stress["steps"]] == [True, False]
    assert stress["highest_passing_load"] == 4
    assert result["kind"] == "stress"
    assert len(list((out / "steps").iterdir())) == 2
    assert "highest load meeting the SLO: 4" in proc.stderr
    assert (out / "report.html").read_text().count("data:image/png") == 3


def test_soak_checkpoints_and_finds_a_real_leak(leaky_server: tuple[str, int], tmp_path: Path) -> None:
    url, pid = leaky_server
    profile = tmp_path / "leaky.yaml"
    profile.write_text("path: /chat\nmode: json\nbody: {m: '{message}'}\nanswer_path: reply\n")
    scenario = tmp_path / "busy.yaml"
    scenario.write_text("name: busy\nconversations: [{turns: ['hello there']}]\n")
    out = tmp_path / "soak"
    proc = run_cli(
        "soak",
        url,
        "--target",
        str(profile),
        "--scenario",
        str(scenario),
        "--users",
        "8",
        "--duration",
        "6s",
        "--pid",
        str(pid),
        "--sample-every",
        "0.25s",
        "--checkpoint-every",
        "2s",
        "--warmup",
        "0.1",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    soak = result["extra"]["soak"]
    assert result["requests"]["total"] >= 400, "the machine was too busy to serve enough requests"
    assert soak["checkpoints"] >= 2
    assert soak["verdict"].startswith(f"leak: rss_mb:{pid}")
    assert soak["trends"][f"rss_mb:{pid}"]["slope_per_1000_requests"] > 50  # 200 KB kept per request
    resources = pd.read_csv(out / "resources.csv")
    assert set(resources["pid"]) == {pid} and resources["rss_mb"].iloc[-1] > resources["rss_mb"].iloc[0]
    assert json.loads((out / "checkpoint.json").read_text())["requests"] == result["requests"]["total"]
