import pytest

from reference_server.cache.admission import CompletedAnswer, rejection_reason, ttl_class


def answer(text="Paris is the capital of France.", **overrides) -> CompletedAnswer:
    return CompletedAnswer(**{"text": text, "model": "small", "finish_reason": "stop", **overrides})


def test_a_complete_answer_is_admitted():
    assert rejection_reason("What is the capital of France?", answer()) is None


@pytest.mark.parametrize(
    ("query", "candidate", "reason"),
    [
        ("q", answer(error=True), "error"),
        ("q", answer(cancelled=True), "cancelled"),
        ("q", answer(finish_reason="length"), "truncated"),
        ("q", answer(finish_reason=None), "truncated"),
        ("q", answer(text="   "), "empty"),
        ("q", answer(text="I'm sorry, but I can't help with that."), "refusal"),
        ("q", answer(text="Desculpe, mas não posso ajudar com isso."), "refusal"),
        ("q", answer(personal=True), "personal"),
        ("my email is ana@example.com, what is my plan?", answer(), "personal"),
        ("meu CPF é 123.456.789-09", answer(), "personal"),
        ("q", answer(text="Call us at +55 11 91234-5678."), "personal"),
    ],
)
def test_incomplete_or_unsafe_answers_are_rejected(query, candidate, reason):
    assert rejection_reason(query, candidate) == reason


def test_ttl_class_is_chosen_from_the_question():
    assert ttl_class("How do I reset my password?", depends_on_context=False) == "faq"
    assert ttl_class("What is the weather today?", depends_on_context=False) == "dynamic"
    assert ttl_class("Qual a cotação do dólar hoje?", depends_on_context=False) == "dynamic"
    assert ttl_class("How do I reset my password?", depends_on_context=True) == "dynamic"
