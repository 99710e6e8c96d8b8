from reference_server.cache.keys import CacheScope, context_fingerprint, depends_on_context, exact_key

HISTORY_FRANCE = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]
HISTORY_JAPAN = [
    {"role": "user", "content": "What is the capital of Japan?"},
    {"role": "assistant", "content": "Tokyo."},
]


def test_follow_ups_depend_on_context_and_standalone_questions_do_not():
    assert depends_on_context("and in Germany?")
    assert depends_on_context("E na Alemanha?")
    assert depends_on_context("what about its population?")
    assert not depends_on_context("What is the capital of Germany?")
    assert not depends_on_context("Como faço para redefinir minha senha?")


def test_standalone_question_shares_a_key_across_conversations():
    scope = CacheScope("tenant:a")
    query = "What is the capital of Germany?"
    assert context_fingerprint(query, HISTORY_FRANCE) == ""
    assert exact_key(scope, context_fingerprint(query, HISTORY_FRANCE), "q") == exact_key(scope, "", "q")


def test_follow_up_is_keyed_on_its_conversation():
    first = context_fingerprint("and in Germany?", HISTORY_FRANCE)
    second = context_fingerprint("and in Germany?", HISTORY_JAPAN)
    assert first and second and first != second
    assert context_fingerprint("and in Germany?", []) == ""


def test_scope_parts_all_change_the_key():
    keys = {
        exact_key(CacheScope("tenant:a", "v1", "small"), "", "q"),
        exact_key(CacheScope("tenant:b", "v1", "small"), "", "q"),
        exact_key(CacheScope("tenant:a", "v2", "small"), "", "q"),
        exact_key(CacheScope("tenant:a", "v1", "large"), "", "q"),
    }
    assert len(keys) == 4
    assert exact_key(CacheScope("tenant:a"), "", "q").startswith(CacheScope("tenant:a").key_prefix)
