import pytest

from reference_server.routing.quality import check_answer, check_prefix

GOOD = "You can reset your password from the login page by choosing 'Forgot password'."


def test_a_good_answer_passes():
    assert check_answer(GOOD, "stop").ok


@pytest.mark.parametrize(
    ("text", "finish_reason", "reason"),
    [
        ("", "stop", "empty"),
        ("   \n", "stop", "empty"),
        (GOOD, "length", "truncated"),
        ("I'm sorry, but I can't help with that request.", "stop", "refusal"),
        ("Desculpe, mas não posso ajudar com esse pedido.", "stop", "refusal"),
        ("It depends.", "stop", "too-short"),
        ("Depende.", "stop", "too-short"),
        ("Here is the code:\n```python\nprint('hi')\n", "stop", "malformed"),
        ("The answer is \ufffd\ufffd garbled text here.", "stop", "malformed"),
        ("The plan is great for you. " * 4, "stop", "malformed"),
    ],
)
def test_weak_answers_are_caught(text, finish_reason, reason):
    verdict = check_answer(text, finish_reason)
    assert not verdict.ok
    assert verdict.reason == reason


def test_prefix_check_catches_refusals_before_they_are_shown():
    assert not check_prefix("I'm sorry, but I can't help with").ok
    assert check_prefix("You can reset your password from").ok
