"""Does the gate catch a real 20% P95 regression, and stay quiet on reruns of the same target?

Two mock LLMs: A (TTFT 150 ms ± 30 ms jitter) and B, the same with every latency 20%
higher. One baseline run against A, ten reruns against A (each must pass: no false
alarm), one run against B (must fail with exit code 1). Each run is a real
``chatopt bench`` (closed loop, FAQ questions without think time, so the run stays valid
on a busy shared machine where open-loop schedule lag would invalidate it); the gate is
``chatopt gate --max-p95-regression 10% --min-abs-ms 20 --metric ttft``.

    .venv/bin/python benchmarks/bench_gate.py [--duration 10] [--users 8] [--reruns 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import free_port, wait_for_port  # noqa: E402

MODEL = "bench-model"


def start_mock(workdir: Path, name: str, scale: float) -> tuple[subprocess.Popen[bytes], str]:
    config = workdir / f"{name}.yaml"
    config.write_text(
        "tiers:\n"
        f"  bench: {{base_ms: {150 * scale}, jitter_ms: {30 * scale}, prefill_ms_per_token: 0, "
        f"tokens_per_second: {200 / scale}}}\n"
        f"models:\n  {MODEL}: bench\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatopt", "mock-llm", "--port", str(port), "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port)
    return process, f"http://127.0.0.1:{port}"


def bench(url: str, out: Path, args: argparse.Namespace, seed: int) -> None:
    scenario = out.parent / "faq-no-think.yaml"
    if not scenario.exists():
        faq = yaml.safe_load((ROOT / "scenarios" / "faq.yaml").read_text())
        faq.update(name="faq-no-think", think_time_s=0)
        scenario.write_text(yaml.safe_dump(faq, allow_unicode=True))
    command = [sys.executable, "-m", "chatopt", "bench", url, "--target", "openai", "--model", MODEL]
    command += ["--scenario", str(scenario), "--users", str(args.users), "--spawn-rate", "100"]
    command += ["--duration", f"{args.duration}s", "--seed", str(seed), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True)


def gate(baseline: Path, current: Path) -> tuple[int, str]:
    summary = current / "gate.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatopt",
            "gate",
            "--baseline",
            str(baseline / "result.json"),
            "--current",
            str(current / "result.json"),
            "--max-p95-regression",
            "10%",
            "--min-abs-ms",
            "20",
            "--metric",
            "ttft",
            "--summary",
            str(summary),
        ],
        capture_output=True,
        text=True,
    )
    table = [line for line in summary.read_text().splitlines() if line.startswith("| ") and "ms" in line]
    return proc.returncode, table[-1] if table else proc.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--reruns", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        mock_a, url_a = start_mock(workdir, "a", 1.0)
        mock_b, url_b = start_mock(workdir, "b", 1.2)
        try:
            baseline = workdir / "baseline"
            bench(url_a, baseline, args, seed=1)
            base = json.loads((baseline / "result.json").read_text())
            p95 = base["metrics"]["ttft_ms"]["p95"]
            total = base["requests"]["total"]
            print(f"baseline: {total} requests, P95 TTFT {p95:.1f} ms, valid {base['valid']}")
            print("run            exit  verdict      | baseline P95 | current P95 | Δ | Δ% | 95% CI of Δ |")
            false_alarms = 0
            for index in range(args.reruns):
                current = workdir / f"rerun-{index}"
                bench(url_a, current, args, seed=100 + index)
                code, row = gate(baseline, current)
                false_alarms += code != 0
                print(f"rerun {index + 1:<8}{code:>5}  {'pass' if code == 0 else 'FALSE ALARM':<12} {row}")
            slower = workdir / "regressed"
            bench(url_b, slower, args, seed=999)
            code, row = gate(baseline, slower)
            print(f"{'+20% latency':<14}{code:>5}  {'flagged' if code == 1 else 'MISSED':<12} {row}")
            print(
                f"false alarms: {false_alarms} of {args.reruns}; injected 20% regression "
                f"{'flagged (exit 1)' if code == 1 else f'not flagged (exit {code})'}"
            )
        finally:
            for mock in (mock_a, mock_b):
                mock.kill()
                mock.wait()


if __name__ == "__main__":
    main()
