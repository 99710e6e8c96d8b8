"""Property tests of the validators and normalizers: total, safe, and consistent on any input."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from reference_server.observability.tracecontext import TraceContext, continue_trace, parse_traceparent
from reference_server.security.profanity import ProfanityFilter, fold
from reference_server.security.ratelimit import LocalWindows, RateLimitPolicy
from reference_server.security.rejection import Rejection
from reference_server.security.sanitize import sanitize_html, sanitize_message
from reference_server.security.spam import spam_reason
from reference_server.security.validation import check_message

HTML_BITS = st.sampled_from([
    "<script>", "</script>", "<img src=x onerror=alert(1)>", '<a href="javascript:alert(1)">', "</a>",
    "<b>", "</b>", "<svg onload=x>", "<!--", "-->", "<", ">", "&", "&lt;", '"', "'", "javascript:",
    "<iframe>", "<style>", "onclick=", " ", "texto", "ação", "\n",
])
HTMLISH = st.lists(HTML_BITS | st.text(max_size=5), max_size=30).map("".join)
PROFANITY = ProfanityFilter()


@given(HTMLISH)
def test_sanitized_html_runs_no_script_and_is_stable(text):
    clean = sanitize_html(text)
    lowered = clean.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<svg" not in lowered
    assert not re.search(r"<[^>]*\son\w+\s*=", lowered)
    assert not re.search(r"href\s*=\s*\"?\s*javascript:", lowered)
    assert sanitize_html(clean) == clean


@given(HTMLISH)
def test_stored_messages_are_unchanged_plain_text_or_sanitized_html(text):
    stored = sanitize_message(text)
    assert stored == text or stored == sanitize_html(text)
    assert "<script" not in stored.lower()


@given(st.text(max_size=3000), st.integers(min_value=1, max_value=2500))
def test_message_check_is_total_and_states_the_limit(text, limit):
    try:
        accepted = check_message(text, limit)
    except Rejection as rejected:
        assert rejected.status in (413, 422) and rejected.message
        if rejected.status == 413:
            assert f"{limit:,}" in rejected.message
    else:
        assert 0 < len(accepted) <= limit and accepted == accepted.strip()


@given(st.text(max_size=2000))
@settings(max_examples=200)
def test_spam_and_profanity_checks_never_fail_on_any_text(text):
    reason = spam_reason(text)
    assert reason is None or reason.startswith("it ")
    hit = PROFANITY.find(text)
    assert hit is None or hit.word in fold(text)


@given(st.text(max_size=200))
def test_folding_is_idempotent(text):
    words = fold(text)
    assert fold(" ".join(words)) == words


@given(st.text(max_size=80))
def test_traceparent_parsing_never_raises_and_always_yields_a_trace(value):
    parsed = parse_traceparent(value)
    assert parsed is None or parse_traceparent(parsed.traceparent) == parsed
    trace = continue_trace(value)
    assert re.fullmatch(r"[0-9a-f]{32}", trace.trace_id) and re.fullmatch(r"[0-9a-f]{16}", trace.span_id)


@given(st.from_regex(r"[0-9a-f]{32}", fullmatch=True), st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
       st.booleans())
def test_traceparent_round_trips(trace_id, span_id, sampled):
    if set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return
    context = TraceContext(trace_id, span_id, sampled)
    assert parse_traceparent(context.traceparent) == context


@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200),
       st.integers(min_value=1, max_value=10))
def test_local_window_never_admits_more_than_the_limit_in_any_window(gaps, limit):
    now = [0.0]
    windows = LocalWindows(clock=lambda: now[0])
    policy = RateLimitPolicy("p", limit, 10.0)
    admitted: list[float] = []
    for gap in gaps:
        now[0] += gap
        if windows.hit([("k", policy)])[0]:
            admitted.append(now[0])
    for i, start in enumerate(admitted):
        assert sum(1 for t in admitted[i:] if t < start + policy.window_s) <= limit
