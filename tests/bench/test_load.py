"""Load shapes, arrival schedules, scenarios and plans (no load is generated here)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from chatopt.bench.load import LoadPlan, Stage, arrival_offsets, parse_duration
from chatopt.bench.scenario import builtin_scenarios, load_scenario
from chatopt.bench.session import build_plan, parse_stages
from chatopt.errors import ChatoptError

REQUIRED_SCENARIOS = {"faq", "conversations", "mixed", "burst", "long-messages", "websocket", "soak"}


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("5m", 300), ("24h", 86400), ("250ms", 0.25), (3, 3)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "-3s", "0s", "10 parsecs"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(ChatoptError):
        parse_duration(text)


def test_constant_arrivals_are_evenly_spaced_and_fixed_in_advance() -> None:
    plan = LoadPlan(mode="open", rate=20, duration_s=2)
    offsets = list(arrival_offsets(plan))
    assert len(offsets) == 39
    assert offsets == pytest.approx([(k + 1) / 20 for k in range(39)])
    assert list(arrival_offsets(plan, share=0.5)) == pytest.approx([(k + 1) / 10 for k in range(19)])


def test_poisson_arrivals_are_seeded_and_have_the_requested_mean_rate() -> None:
    plan = LoadPlan(mode="open", rate=50, poisson=True, duration_s=200)
    first, again = list(arrival_offsets(plan, seed=3)), list(arrival_offsets(plan, seed=3))
    assert first == again
    gaps = [b - a for a, b in zip(first, first[1:], strict=False)]
    assert len(first) == pytest.approx(10_000, rel=0.05)
    assert min(gaps) < 0.2 / 50 and max(gaps) > 5 / 50  # exponential gaps, not evenly spaced


def test_stages_change_the_rate_and_skip_silent_stages() -> None:
    plan = LoadPlan(
        mode="open",
        duration_s=1,
        stages=[Stage(duration_s=1, rate=2), Stage(duration_s=1, rate=0), Stage(duration_s=1, rate=10)],
    )
    assert plan.duration_s == 3
    offsets = list(arrival_offsets(plan))
    assert [t for t in offsets if t < 1] == pytest.approx([0.5])
    assert not [t for t in offsets if 1 <= t < 2]
    assert len([t for t in offsets if t >= 2]) >= 9


def test_closed_loop_stages_need_users() -> None:
    with pytest.raises(ValueError, match="needs 'users'"):
        LoadPlan(mode="closed", duration_s=1, stages=[Stage(duration_s=1, rate=3)])
    plan = LoadPlan(mode="closed", duration_s=1, stages=parse_stages("1s:2,2s:8", "closed"))
    assert [plan.users_at(t) for t in (0.5, 1.5, 9)] == [2, 8, 8]
    assert plan.peak_users() == 8


def test_bundled_scenarios_load_and_speak_english_and_portuguese() -> None:
    assert set(builtin_scenarios()) >= REQUIRED_SCENARIOS
    for name in REQUIRED_SCENARIOS:
        scenario = load_scenario(name)
        languages = {conversation.language for conversation in scenario.conversations}
        assert {"en", "pt"} <= languages, name
    faq = load_scenario("faq")
    assert any(isinstance(turn, list) and len(turn) > 1 for c in faq.conversations for turn in c.turns)
    assert max(len(c.turns) for c in load_scenario("conversations").conversations) >= 3
    assert load_scenario("websocket").target == "reference-ws"


def test_scenario_picks_by_weight_and_paraphrase() -> None:
    faq = load_scenario("faq")
    rng = random.Random(4)
    names = [faq.pick(rng).name for _ in range(2000)]
    assert names.count("reset-password") > names.count("invoice-pt")
    messages = {faq.conversations[0].messages(rng)[0] for _ in range(200)}
    assert len(messages) > 1


def test_bad_scenarios_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ChatoptError, match="unknown scenario"):
        load_scenario("does-not-exist")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nconversations: [{turns: ['']}]\n")
    with pytest.raises(ChatoptError, match="no message text"):
        load_scenario(str(bad))


def test_plan_from_options_uses_scenario_defaults_and_refuses_both_modes() -> None:
    scenario = load_scenario("burst")
    plan = build_plan(
        users=None,
        spawn_rate=None,
        rate=None,
        poisson=False,
        duration="",
        stages=None,
        max_inflight=10,
        workers=1,
        scenario=scenario,
    )
    assert plan.mode == "open" and plan.rate == 5 and plan.duration_s == 60
    with pytest.raises(ChatoptError, match="not both"):
        build_plan(
            users=3,
            spawn_rate=None,
            rate=2,
            poisson=False,
            duration="1s",
            stages=None,
            max_inflight=10,
            workers=1,
            scenario=scenario,
        )
