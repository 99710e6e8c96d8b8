"""Latency config: default tiers as documented, YAML overrides, model mapping, schedules."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from chatopt import tokens as token_counter
from chatopt.errors import ChatoptError
from chatopt.mockllm import DEFAULT_TIERS, MockConfig, load_config
from chatopt.mockllm.latency import plan_schedule


def test_default_tiers_are_the_documented_ones() -> None:
    small, medium, large = DEFAULT_TIERS["small"], DEFAULT_TIERS["medium"], DEFAULT_TIERS["large"]
    assert (small.base_ms, small.prefill_ms_per_token, small.tokens_per_second) == (250, 0.05, 120)
    assert (medium.base_ms, medium.prefill_ms_per_token, medium.tokens_per_second) == (500, 0.1, 70)
    assert (large.base_ms, large.prefill_ms_per_token, large.tokens_per_second) == (800, 0.2, 40)
    assert (small.input_usd_per_million, small.output_usd_per_million) == (0.15, 0.60)
    assert (medium.input_usd_per_million, medium.output_usd_per_million) == (2.50, 10.0)
    assert (large.input_usd_per_million, large.output_usd_per_million) == (15.0, 60.0)


def test_model_names_map_to_tiers() -> None:
    config = MockConfig()
    assert config.tier_name_for("gpt-4o-mini") == "small"
    assert config.tier_name_for("gpt-4o") == "medium"
    assert config.tier_name_for("gpt-4") == "large"
    assert config.tier_name_for("gemini-1.5-flash-002") == "small"
    assert config.tier_name_for("claude-3-opus") == "large"
    assert config.tier_name_for("my-own-model") == "medium"


def test_yaml_overrides_merge_into_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mock.yaml"
    path.write_text(
        "seed: 9\n"
        "tokens_per_event: 3\n"
        "default_tier: tiny\n"
        "tiers:\n"
        "  small: {base_ms: 100}\n"
        "  tiny: {base_ms: 10, prefill_ms_per_token: 0.01, tokens_per_second: 500}\n"
        "models:\n"
        "  house-model: large\n"
        '  "gpt-4o*": tiny\n'
        "faults: {error_rate: 0.1}\n"
    )
    config = load_config(path)
    assert config.seed == 9 and config.tokens_per_event == 3
    assert config.tiers["small"].base_ms == 100
    assert config.tiers["small"].tokens_per_second == 120  # the rest of the tier stays default
    assert config.tier_name_for("house-model") == "large"
    assert config.tier_name_for("gpt-4o") == "medium"  # exact built-in names win over patterns
    assert config.tier_name_for("gpt-4o-2024-08-06") == "tiny"
    assert config.tier_name_for("anything") == "tiny"
    assert config.faults.error_rate == 0.1 and config.faults.error_status == 503


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tiers: {small: {tokens_per_second: 0}}", "tiers.small.tokens_per_second"),
        ("models: {x: nowhere}", "unknown tier(s) nowhere"),
        ("faults: {error_rate: 2}", "faults.error_rate"),
        ("speed: 3", "speed"),
        ("- a list", "must hold a mapping"),
        ("tiers: [", "not valid YAML"),
    ],
)
def test_bad_yaml_says_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ChatoptError) as caught:
        load_config(path)
    assert message in str(caught.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ChatoptError, match="cannot read mock config"):
        load_config(tmp_path / "nope.yaml")


def test_schedule_is_base_plus_prefill_then_the_token_rate() -> None:
    tier = DEFAULT_TIERS["medium"].model_copy(update={"jitter_ms": 0, "token_jitter": 0})
    schedule = plan_schedule(tier, prompt_tokens=1000, completion_tokens=71, rng=random.Random(1))
    assert schedule.time_to_first_token_s == pytest.approx(0.6)
    assert schedule.token_offsets_s[0] == pytest.approx(0.6)
    assert schedule.total_s == pytest.approx(0.6 + 70 / 70)


def test_jitter_stays_within_its_bounds_and_slow_first_token_adds() -> None:
    tier = DEFAULT_TIERS["small"]
    rng = random.Random(5)
    ttfts = [
        plan_schedule(tier, prompt_tokens=0, completion_tokens=3, rng=rng).time_to_first_token_s
        for _ in range(200)
    ]
    assert min(ttfts) >= 0.225 and max(ttfts) <= 0.275
    assert len(set(ttfts)) > 100
    slow = plan_schedule(tier, prompt_tokens=0, completion_tokens=3, rng=rng, extra_first_token_ms=1000)
    assert slow.time_to_first_token_s >= 1.225


@pytest.mark.parametrize("tokens_per_event", [1, 4])
def test_tokens_per_event(start_mock_llm, tokens_per_event: int) -> None:
    mock = start_mock_llm(MockConfig.fast(tokens_per_event=tokens_per_event))
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "How do I reset my password?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{mock.base_url}/chat/completions", json=body, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in events[:-1]]
    contents = [
        c["choices"][0]["delta"]["content"]
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"].get("content")
    ]
    completion_tokens = chunks[-1]["usage"]["completion_tokens"]
    assert len(contents) == -(-completion_tokens // tokens_per_event)
    assert token_counter.count_text("".join(contents)) == completion_tokens
