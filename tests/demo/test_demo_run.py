"""chatopt demo end to end on a small plan, and its clean-up on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from chatopt.demo.plan import DemoPlan, ScenarioLoad
from chatopt.demo.result import DemoResult
from chatopt.demo.runner import DemoOptions, run_demo, steps_in
from chatopt.report.demo import write_demo_reports

pytestmark = pytest.mark.slow

#: Every tier answers within ~100 ms so the whole story runs in about a minute.
FAST_TIERS = {
    "tiers": {
        name: {"base_ms": base, "prefill_ms_per_token": 0.05, "tokens_per_second": 400, "jitter_ms": 0}
        for name, base in (("small", 20), ("medium", 40), ("large", 80))
    }
}


@pytest.fixture
def mock_config(tmp_path: Path) -> Path:
    path = tmp_path / "mock.yaml"
    path.write_text(yaml.safe_dump(FAST_TIERS))
    return path


def test_small_demo_measures_both_profiles_and_writes_reports(tmp_path: Path, mock_config: Path):
    plan = DemoPlan(
        mode="quick",
        scenarios=(
            ScenarioLoad("mixed", 4, 4, "latency and cost"),
            ScenarioLoad("faq", 4, 4, "cache"),
            ScenarioLoad("long-conversation", 2, 5, "tokens"),
        ),
        audit_seconds=12,
        audit_max_requests=60,
        ladder_scenario=None,
    )
    steps: list[str] = []
    out = tmp_path / "demo"
    result = run_demo(plan, DemoOptions(out_dir=out, mock_config=mock_config), steps.append)
    paths = write_demo_reports(result, out)

    assert len(steps) == steps_in(plan)
    saved = DemoResult.model_validate_json((out / "demo.json").read_text())
    assert saved.before.label == "baseline" and saved.after.label == "optimized"
    for run in (saved.before, saved.after):
        assert [o.scenario for o in run.scenarios] == ["mixed", "faq", "long-conversation"]
        assert all(o.requests > 0 and o.usage.chat_calls > 0 or o.cache_hits for o in run.scenarios)
        assert (out / run.audit_dir / "audit.json").is_file()
    assert "P1" in saved.before.audit_problems and "P1" not in saved.after.audit_problems
    assert saved.before.scenario("faq").cache_hits == 0
    assert saved.after.scenario("faq").cache_hits > 0
    assert set(saved.before.scenario("mixed").usage.calls_by_model) == {"large"}
    filled = {h.name: h for h in saved.headlines}
    for name in ("Perceived latency (TTFT P50)", "API cost per 1,000 conversations", "Cache hit rate"):
        assert filled[name].before is not None and filled[name].after is not None, name
    html = paths[1].read_text()
    assert html.count("<img") >= 4 and "Headline figures" in html


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path: Path, mock_config: Path):
    out = tmp_path / "demo"
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatopt",
            "demo",
            "--quick",
            "--out",
            str(out),
            "--mock-config",
            str(mock_config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    parent = psutil.Process(demo.pid)
    children: list[psutil.Process] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "baseline" / "audit.log").exists():
        children = parent.children(recursive=True) or children
        time.sleep(0.2)
    children = parent.children(recursive=True)
    assert len(children) >= 3, "mock LLM, server and audit should be running"
    demo.send_signal(signal.SIGINT)
    demo.wait(timeout=60)
    assert demo.returncode != 0
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, [p.cmdline() for p in alive]
