import unicodedata

from reference_server.cache.normalize import normalize_query


def test_case_whitespace_and_edge_punctuation_are_ignored():
    expected = normalize_query("how do i reset my password")
    assert normalize_query("  How do I   RESET my password??  ") == expected


def test_repeated_letters_punctuation_and_words_collapse():
    assert normalize_query("pleeeease help!!!") == "pleease help"
    assert normalize_query("what is the the price") == "what is the price"
    assert normalize_query("is it ok... really") == "is it ok. really"


def test_composed_and_decomposed_accents_are_the_same_key():
    decomposed = unicodedata.normalize("NFD", "Qual é a capital da França?")
    assert normalize_query(decomposed) == normalize_query("qual é a capital da frança")


def test_portuguese_accents_stay_distinct():
    assert normalize_query("o pais") != normalize_query("o país")
    assert normalize_query("ele e ela") != normalize_query("ele é ela")


def test_words_with_double_letters_survive():
    assert normalize_query("cool speed") == "cool speed"
