"""``chatopt gate``: pass, regression and invalid, with exit codes, JUnit and the PR summary."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from chatopt.cli import app
from chatopt.report.gate import GateStatus, parse_percent, run_gate
from tests.report.runs import synthetic_run, synthetic_samples

runner = CliRunner()


def gate_cli(baseline: Path, current: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "gate",
            "--baseline",
            str(baseline),
            "--current",
            str(current),
            "--max-p95-regression",
            "10%",
            "--min-abs-ms",
            "20",
            "--resamples",
            "500",
            *extra,
        ],
    )


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    directory = tmp_path / "baseline"
    synthetic_run(directory, synthetic_samples(seed=1))
    return directory / "result.json"


def test_an_unchanged_target_passes_ten_reruns(tmp_path: Path) -> None:
    base = synthetic_samples(seed=1)
    for seed in range(2, 12):
        current = synthetic_samples(seed=seed)
        verdict = run_gate(
            synthetic_run(tmp_path / "b", base),
            synthetic_run(tmp_path / f"c{seed}", current),
            base,
            current,
            resamples=500,
        )
        assert verdict.status == GateStatus.PASS, verdict.reasons


def test_a_twenty_percent_p95_regression_fails_with_junit_and_summary(baseline: Path, tmp_path: Path) -> None:
    current = tmp_path / "current"
    synthetic_run(current, synthetic_samples(seed=2, scale=1.2))
    junit, summary = tmp_path / "gate.xml", tmp_path / "summary.md"
    result = gate_cli(baseline, current / "result.json", "--junit", str(junit), "--summary", str(summary))
    assert result.exit_code == 1, result.output
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("failures") == "1" and suite.get("errors") == "0"
    assert suite.find("testcase/failure") is not None
    text = summary.read_text()
    assert "regression" in text and "CI" in text


def test_small_or_insignificant_growth_passes(baseline: Path, tmp_path: Path) -> None:
    current = tmp_path / "current"
    synthetic_run(current, synthetic_samples(seed=3, scale=1.05))
    junit = tmp_path / "gate.xml"
    result = gate_cli(baseline, current, "--junit", str(junit))
    assert result.exit_code == 0, result.output
    assert ElementTree.parse(junit).getroot().get("failures") == "0"


def test_min_abs_ms_ignores_tiny_absolute_regressions(tmp_path: Path) -> None:
    fast_base, fast_slower = tmp_path / "a", tmp_path / "b"
    synthetic_run(fast_base, synthetic_samples(ttft_median_ms=20, seed=1))
    synthetic_run(fast_slower, synthetic_samples(ttft_median_ms=20, seed=2, scale=1.3))  # +30% but ~+8 ms
    assert gate_cli(fast_base, fast_slower).exit_code == 0
    assert gate_cli(fast_base, fast_slower, "--min-abs-ms", "1").exit_code == 1


def test_gate_on_other_metrics(baseline: Path, tmp_path: Path) -> None:
    current = tmp_path / "current"
    synthetic_run(current, synthetic_samples(seed=2, scale=1.5))
    for metric in ("e2e", "itl", "tpot"):
        assert gate_cli(baseline, current, "--metric", metric, "--min-abs-ms", "0").exit_code == 1, metric


def test_an_invalid_run_is_refused_with_exit_2(baseline: Path, tmp_path: Path) -> None:
    current = tmp_path / "current"
    synthetic_run(current, synthetic_samples(seed=2), invalid_reasons=("the load generator was CPU-bound",))
    junit = tmp_path / "gate.xml"
    result = gate_cli(baseline, current, "--junit", str(junit))
    assert result.exit_code == 2
    assert "CPU-bound" in result.output
    assert ElementTree.parse(junit).getroot().get("errors") == "2"


def test_invalid_input_exits_2(baseline: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    synthetic_run(other, synthetic_samples(seed=2), scenario="mixed")
    assert gate_cli(baseline, other).exit_code == 2  # different scenarios
    missing_samples = tmp_path / "nosamples"
    synthetic_run(missing_samples, synthetic_samples(seed=2))
    (missing_samples / "samples.csv").unlink()
    assert gate_cli(baseline, missing_samples).exit_code == 2
    not_a_result = tmp_path / "x.json"
    not_a_result.write_text(json.dumps({"hello": 1}))
    with pytest.raises(Exception, match="not a chatopt result"):
        runner.invoke(app, ["gate", "-b", str(baseline), "-c", str(not_a_result)], catch_exceptions=False)
    assert gate_cli(baseline, tmp_path / "missing.json").exit_code != 0
    assert gate_cli(baseline, baseline, "--max-p95-regression", "lots").exit_code != 0


def test_all_requests_failed_is_invalid(baseline: Path, tmp_path: Path) -> None:
    current = tmp_path / "current"
    synthetic_run(current, synthetic_samples(n=20, seed=2, failed=20))
    assert gate_cli(baseline, current).exit_code == 2


def test_parse_percent() -> None:
    assert parse_percent("10%") == pytest.approx(0.1)
    assert parse_percent("0.25") == pytest.approx(0.25)
    with pytest.raises(ValueError):
        parse_percent("-5%")
