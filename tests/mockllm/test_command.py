"""``chatopt mock-llm`` from the command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import openai
import yaml
from typer.testing import CliRunner

from chatopt.cli import app
from tests.services import free_port, wait_for_port

runner = CliRunner()


def test_print_config_shows_the_effective_settings(tmp_path: Path) -> None:
    path = tmp_path / "mock.yaml"
    path.write_text("tiers: {small: {base_ms: 123}}\n")
    options = ["--seed", "5", "--tokens-per-event", "3", "--default-tier", "large", "--print-config"]
    result = runner.invoke(app, ["mock-llm", "--config", str(path), *options])
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.output)
    assert printed["seed"] == 5
    assert printed["tokens_per_event"] == 3
    assert printed["default_tier"] == "large"
    assert printed["tiers"]["small"]["base_ms"] == 123
    assert printed["tiers"]["large"]["tokens_per_second"] == 40


def test_fast_makes_every_tier_answer_in_milliseconds() -> None:
    result = runner.invoke(app, ["mock-llm", "--fast", "--print-config"])
    assert result.exit_code == 0, result.output
    tiers = yaml.safe_load(result.output)["tiers"]
    assert {tier["base_ms"] for tier in tiers.values()} == {5.0}
    assert tiers["large"]["output_usd_per_million"] == 60.0


def test_an_unknown_default_tier_is_a_clear_error() -> None:
    result = runner.invoke(app, ["mock-llm", "--default-tier", "huge", "--print-config"])
    assert result.exit_code != 0
    assert "unknown tier(s) huge" in str(result.exception)


def test_a_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "mock.yaml"
    path.write_text("tiers: {small: {tokens_per_second: -1}}\n")
    process = subprocess.run(
        [sys.executable, "-m", "chatopt", "mock-llm", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2
    assert "tiers.small.tokens_per_second" in process.stderr
    assert "Traceback" not in process.stderr


def test_serves_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatopt", "mock-llm", "--port", str(port), "--fast"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=20
        )
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}/v1" in stdout
    assert "latency tiers" in stdout


def test_a_taken_port_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        process = subprocess.run(
            [sys.executable, "-m", "chatopt", "mock-llm", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in process.stderr
    assert "Traceback" not in process.stderr


def test_printed_config_loads_back_unchanged(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["mock-llm", "--seed", "3", "--print-config"]).output
    path = tmp_path / "mock.yaml"
    path.write_text(printed)
    again = runner.invoke(app, ["mock-llm", "--config", str(path), "--print-config"])
    assert again.exit_code == 0, again.output
    assert again.output == printed
