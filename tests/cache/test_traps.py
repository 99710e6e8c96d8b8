import pytest

from reference_server.cache.traps import check_trap


@pytest.mark.parametrize(
    ("new", "cached", "kind"),
    [
        ("Can I get a refund after 30 days?", "Can I get a refund after 60 days?", "number"),
        ("Book two tickets to the show", "Book three tickets to the show", "number"),
        ("Posso parcelar em 3 vezes?", "Posso parcelar em 10 vezes?", "number"),
        ("What is on the menu on Monday?", "What is on the menu on Friday?", "date"),
        ("O que abre amanhã?", "O que abre hoje?", "date"),
        ("What happened in March 2020?", "What happened in March 2021?", "number"),
        ("What is the capital of France?", "What is the capital of Spain?", "entity"),
        ("How do I install it on Windows?", "How do I install it on Linux?", "entity"),
        ("Qual é a capital da França?", "Qual é a capital da Alemanha?", "entity"),
        ("Who is the CEO of Acme?", "Who is the CEO of Globex?", "entity"),
        ("Can I get a refund?", "Can I not get a refund?", "negation"),
        ("Why doesn't my card work?", "Why does my card work?", "negation"),
        ("Posso cancelar o plano?", "Não posso cancelar o plano?", "negation"),
        ("How do I enable two-factor login?", "How do I disable two-factor login?", "opposite"),
        ("Como ativar a notificação?", "Como desativar a notificação?", "opposite"),
        ("What is the cheapest plan?", "What is the most expensive plan?", "opposite"),
    ],
)
def test_each_trap_kind_vetoes_the_hit(new, cached, kind):
    verdict = check_trap(new, cached)
    assert not verdict.ok
    assert verdict.kind == kind


@pytest.mark.parametrize(
    ("new", "cached"),
    [
        ("How do I reset my password?", "how can i reset my password"),
        ("What is the capital of France?", "Tell me France's capital"),
        ("Book 2 tickets", "book two tickets"),
        ("Qual é a capital da França?", "me diga a capital da frança"),
        ("Quero cancelar uma assinatura", "como cancelo a assinatura"),
        ("I can't log in", "I cannot log in"),
        ("e no Brasil?", "e no brasil"),
    ],
)
def test_paraphrases_pass(new, cached):
    assert check_trap(new, cached).ok
