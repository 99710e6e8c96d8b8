"""``chatopt cache-eval``: the engine's rates, the recommendation rule, the command's files and errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chatopt.cache_eval import (
    DEFAULT_PAIRS_DIR,
    THRESHOLDS,
    LabelledPair,
    PairOutcome,
    ThresholdRow,
    evaluate,
    load_pairs,
    recommend_threshold,
)
from chatopt.cli import app
from chatopt.errors import ChatoptError

PAIRS = """
pairs:
  - {kind: paraphrase, a: "How can I cancel my subscription?", b: "I want to cancel my subscription"}
  - {kind: paraphrase, a: "How do I reset my password?", b: "how do i reset my password"}
  - {kind: negation, a: "Can I get a refund?", b: "Can I not get a refund?"}
  - {kind: entity, a: "What is the capital of France?", b: "What is the capital of Spain?"}
  - {kind: scope, a: "What is our SLA?", b: "What is our SLA?", scope_b: "tenant:other"}
  - {kind: context, a: "and in Germany?", b: "and in Germany?", history_a: ["Capital of France?", "Paris."],
     history_b: ["Population of Japan?", "125 million."]}
"""


@pytest.fixture
def pair_file(tmp_path):
    path = tmp_path / "pairs_en.yaml"
    path.write_text(PAIRS, encoding="utf-8")
    return path


def test_bundled_set_has_enough_pairs_in_both_languages():
    pairs = load_pairs([DEFAULT_PAIRS_DIR])
    assert len(pairs) >= 300
    assert {p.language for p in pairs} == {"en", "pt"}
    kinds = {p.kind for p in pairs}
    assert {"paraphrase", "negation", "entity", "number", "date", "scope", "context"} <= kinds


def test_evaluate_hits_paraphrases_and_blocks_traps(pair_file, embed):
    result = evaluate(load_pairs([pair_file]), embed=embed)
    assert result.paraphrases == 2 and result.traps == 4
    assert [r.threshold for r in result.rows] == list(THRESHOLDS)
    low = result.row(0.80)
    assert low.hit_rate == 1.0
    assert low.false_hit_rate == 0.0
    assert low.false_hit_rate_without_guard > 0.0  # the negation trap only the guard stops
    assert result.row(0.95).hit_rate >= 0.5  # the exact paraphrase hits at any threshold


def test_recommendation_takes_most_hits_within_budget_and_prefers_the_safer_tie():
    def row(threshold, hits, false_hits):
        return ThresholdRow(threshold, hits, false_hits, false_hits, {}, {})

    rows = [row(0.80, 0.95, 0.05), row(0.85, 0.90, 0.0), row(0.86, 0.90, 0.0), row(0.90, 0.70, 0.0)]
    assert recommend_threshold(rows, 0.01) == 0.86
    assert recommend_threshold([row(0.8, 0.9, 0.2), row(0.9, 0.5, 0.1)], 0.01) == 0.9


def test_hit_at_respects_exact_threshold_and_guard():
    pair = LabelledPair("negation", "en", "a", "b")
    assert PairOutcome(pair, True, None, None).hit_at(0.99)
    vetoed = PairOutcome(pair, False, 0.95, "negation")
    assert not vetoed.hit_at(0.9) and vetoed.hit_at(0.9, guard=False)
    assert not PairOutcome(pair, False, 0.85, None).hit_at(0.9)


def test_command_writes_html_and_json(pair_file, tmp_path):
    html_path, json_path = tmp_path / "out" / "eval.html", tmp_path / "eval.json"
    result = CliRunner().invoke(
        app, ["cache-eval", "--pairs", str(pair_file), "--html", str(html_path), "--json", str(json_path)]
    )
    assert result.exit_code == 0, result.output
    assert "recommended threshold" in result.output
    page = html_path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "Semantic cache evaluation" in page
    figures = json.loads(json_path.read_text(encoding="utf-8"))
    assert figures["pairs"] == 6 and len(figures["rows"]) == len(THRESHOLDS)


def test_bad_pair_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pairs:\n  - {kind: maybe, a: x, b: y}\n", encoding="utf-8")
    with pytest.raises(ChatoptError, match="unknown kind"):
        load_pairs([bad])
    with pytest.raises(ChatoptError, match="does not exist"):
        load_pairs([tmp_path / "missing.yaml"])
    (tmp_path / "list.yaml").write_text("- a\n", encoding="utf-8")
    with pytest.raises(ChatoptError, match="'pairs' list"):
        load_pairs([tmp_path / "list.yaml"])
