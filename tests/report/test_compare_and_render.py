"""Statistics, ``chatopt compare`` and the Markdown/HTML/JSON renderings of a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from chatopt.cli import app
from chatopt.report.compare import compare_runs, load_run
from chatopt.report.html import markdown_to_html
from chatopt.report.result import load_result
from chatopt.report.samples import read_samples, write_samples
from chatopt.report.stats import bootstrap_percentile_difference, linear_trend, summarize
from tests.report.runs import synthetic_run, synthetic_samples


def test_summary_is_exact_from_raw_values() -> None:
    values = np.random.default_rng(0).exponential(100, 5001)
    summary = summarize(values.tolist())
    assert summary.p95 == pytest.approx(float(np.percentile(values, 95)))
    assert summary.max == pytest.approx(values.max())
    assert summarize([]).p50 is None


def test_bootstrap_interval_covers_no_change_and_excludes_a_real_shift() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(5, 0.3, 3000), rng.lognormal(5, 0.3, 3000)
    same = bootstrap_percentile_difference(a, b, resamples=500)
    assert same.low < 0 < same.high
    shifted = bootstrap_percentile_difference(a, b * 1.2, resamples=500)
    assert shifted.low > 0 and shifted.relative == pytest.approx(0.2, abs=0.08)


def test_bootstrap_subsamples_large_sets_without_losing_the_point_estimate() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.lognormal(5, 0.3, 100_000), rng.lognormal(5, 0.3, 100_000) * 1.05
    difference = bootstrap_percentile_difference(a, b, resamples=300, max_values=5000)
    assert difference.delta == pytest.approx(np.percentile(b, 95) - np.percentile(a, 95))
    assert difference.low > 0


def test_linear_trend() -> None:
    x = list(range(100))
    slope, r2 = linear_trend(x, [3 * value + 7 for value in x])
    assert slope == pytest.approx(3) and r2 == pytest.approx(1)
    noise = np.random.default_rng(3).normal(0, 1, 100)
    assert linear_trend(x, noise.tolist())[1] < 0.2


def test_samples_round_trip_through_csv(tmp_path: Path) -> None:
    samples = synthetic_samples(n=50, failed=5)
    write_samples(samples, tmp_path / "s.csv")
    back = read_samples(tmp_path / "s.csv")
    assert back[0].ttft_ms is None and back[0].ok is False
    assert back[10].itl_values == pytest.approx(samples[10].itl_values, abs=1e-3)
    assert [s.ok for s in back] == [s.ok for s in samples]


def test_result_json_has_the_documented_fields(tmp_path: Path) -> None:
    synthetic_run(tmp_path, synthetic_samples(n=200, failed=10), plots=True)
    data = json.loads((tmp_path / "result.json").read_text())
    for field in (
        "schema",
        "target",
        "scenario",
        "load",
        "valid",
        "invalid_reasons",
        "throughput",
        "generator",
    ):
        assert field in data
    assert data["requests"]["total"] == 200 and data["requests"]["failed"] == 10
    assert data["requests"]["errors_by_kind"] == {"http": 10}
    for metric in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
        assert {"p50", "p90", "p95", "p99", "mean", "max"} <= set(data["metrics"][metric])
    assert load_result(tmp_path).requests.ok == 190
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "<table>" in html


def test_compare_reports_deltas_with_intervals(tmp_path: Path) -> None:
    synthetic_run(tmp_path / "a", synthetic_samples(seed=1))
    synthetic_run(tmp_path / "b", synthetic_samples(seed=2, scale=0.5))
    before, before_samples = load_run(tmp_path / "a")
    after, after_samples = load_run(tmp_path / "b")
    comparison = compare_runs(before, after, before_samples, after_samples, resamples=300)
    ttft = comparison.delta("ttft_ms", "p95")
    assert ttft.delta < 0 and ttft.significant and ttft.ci_high < 0
    assert ttft.relative == pytest.approx(-0.5, abs=0.1)


def test_compare_command_writes_reports_with_overlays(tmp_path: Path) -> None:
    synthetic_run(tmp_path / "a", synthetic_samples(seed=1))
    synthetic_run(tmp_path / "b", synthetic_samples(seed=2, scale=1.3))
    result = CliRunner().invoke(
        app,
        [
            "compare",
            str(tmp_path / "a"),
            str(tmp_path / "b" / "result.json"),
            "--out",
            str(tmp_path / "cmp"),
            "--labels",
            "baseline,optimized",
            "--resamples",
            "300",
        ],
    )
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "cmp" / "report.md").read_text()
    assert "baseline" in markdown and "optimized" in markdown and "TTFT p95" in markdown
    assert (tmp_path / "cmp" / "report.html").read_text().count("data:image/png") == 2
    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert any(d["metric"] == "e2e_ms" and d["significant"] for d in comparison["deltas"])


def test_compare_without_samples_still_gives_deltas(tmp_path: Path) -> None:
    synthetic_run(tmp_path / "a", synthetic_samples(seed=1))
    synthetic_run(tmp_path / "b", synthetic_samples(seed=2))
    (tmp_path / "b" / "samples.csv").unlink()
    before, before_samples = load_run(tmp_path / "a")
    after, after_samples = load_run(tmp_path / "b")
    comparison = compare_runs(before, after, before_samples, after_samples)
    assert not comparison.bootstrap and comparison.delta("ttft_ms", "p50").delta is not None
    assert comparison.delta("ttft_ms", "p50").ci_low is None
    assert any("raw samples missing" in note for note in comparison.notes)


def test_markdown_to_html_escapes_and_builds_tables() -> None:
    html = markdown_to_html("# T <x>\n\n| a | b |\n| --- | --- |\n| 1 | **2** |\n\n- item `code`\n")
    assert "<h1>T &lt;x&gt;</h1>" in html
    assert "<td><strong>2</strong></td>" in html
    assert "<li>item <code>code</code></li>" in html
