"""Answers cut into SSE pieces: valid UTF-8 per event, nothing lost, max_tokens honoured."""

from __future__ import annotations

import json

import pytest

from chatopt import tokens as token_counter
from chatopt.mockllm.chunks import prepare_answer

MIXED = "Olá! Preço: R$ 9,90 — 日本語のテキスト 🎉🚀 e código: `print('ok')`."


@pytest.mark.parametrize("tokens_per_event", [1, 2, 5])
def test_every_piece_is_valid_text_and_together_they_are_the_answer(tokens_per_event: int) -> None:
    answer = prepare_answer(MIXED, encoding="o200k_base", tokens_per_event=tokens_per_event, max_tokens=None)
    pieces = [json.loads(piece) for piece in answer.pieces]
    assert "".join(pieces) == MIXED == answer.text
    assert all(piece and "\ufffd" not in piece for piece in pieces)
    assert answer.completion_tokens == token_counter.count_text(MIXED, encoding="o200k_base")
    assert answer.finish_reason == "stop"
    assert list(answer.last_token_index) == sorted(set(answer.last_token_index))
    assert answer.last_token_index[-1] == answer.completion_tokens - 1


def test_a_character_split_across_tokens_waits_for_its_last_byte() -> None:
    # Emoji take several tokens in o200k_base; one event per token cannot carry half of one.
    answer = prepare_answer("🎉🚀", encoding="o200k_base", tokens_per_event=1, max_tokens=None)
    assert answer.completion_tokens > len(answer.pieces)
    assert [json.loads(piece) for piece in answer.pieces] == ["🎉", "🚀"]


def test_max_tokens_cuts_and_says_length() -> None:
    answer = prepare_answer(MIXED, encoding="o200k_base", tokens_per_event=1, max_tokens=4)
    assert answer.completion_tokens == 4
    assert answer.finish_reason == "length"
    assert MIXED.startswith(answer.text)
    not_cut = prepare_answer(MIXED, encoding="o200k_base", tokens_per_event=1, max_tokens=10_000)
    assert not_cut.finish_reason == "stop"


def test_empty_answer_has_no_pieces() -> None:
    answer = prepare_answer("", encoding="cl100k_base", tokens_per_event=1, max_tokens=None)
    assert (answer.pieces, answer.completion_tokens, answer.text) == ((), 0, "")
