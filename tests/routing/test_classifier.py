import pytest

from reference_server.routing.classifier import classify


@pytest.mark.parametrize(
    "message",
    [
        "How do I reset my password?",
        "What are your opening hours?",
        "Qual é o horário de funcionamento?",
        "Como troco minha senha?",
        "Do you ship to Portugal?",
    ],
)
def test_short_faq_questions_are_simple(message):
    decision = classify(message)
    assert decision.complexity == "simple"
    assert decision.reason == "short-faq"


@pytest.mark.parametrize(
    "message",
    [
        "Explain the difference between a debit and a credit card",
        "Por que minha fatura veio mais alta este mês?",
        "Summarize our refund policy for a customer",
    ],
)
def test_explanations_are_moderate(message):
    assert classify(message).complexity == "moderate"


@pytest.mark.parametrize(
    ("message", "signal"),
    [
        ("Refactor this function:\n```python\ndef f(x):\n    return x*2\n```", "code"),
        ("Why does this raise a Traceback: KeyError in my_dict()?", "code"),
        ("Compare PostgreSQL and MongoDB for our architecture, step by step, with trade-offs", "analysis"),
        ("Analise passo a passo a arquitetura e proponha uma estratégia de migração", "analysis"),
        ("Prove that the integral of 2x is x^2 + C and solve 3*x = 12", "math"),
    ],
)
def test_code_math_and_analysis_are_complex(message, signal):
    decision = classify(message)
    assert decision.complexity == "complex"
    assert signal in decision.reason


def test_long_questions_and_deep_history_raise_the_tier():
    long_question = "Tell me about the plan " + "and its features " * 40
    assert classify(long_question).complexity != "simple"
    assert "long" in classify(long_question).reason
    assert classify("What about the other one?", history_messages=2).complexity == "simple"
    deep = classify("What about the other one?", history_messages=12)
    assert deep.complexity == "moderate" and deep.reason == "deep-history"
