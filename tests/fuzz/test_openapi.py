"""Schemathesis against the running server's ``/openapi.json`` (loopback, bounded examples): no 500s.

Operations are driven through Hypothesis directly (``operation.as_strategy()``), one bounded
run per operation, against a real server on a loopback port.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 15


def test_no_operation_answers_500(monitored_server):
    server = monitored_server(rate_free_per_hour=100_000, rate_ip_per_hour=100_000)
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/api/chat" for op in operations)
    seen: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def never_500(case) -> None:
            response = case.call(base_url=server.url, headers=server.headers(), timeout=20)
            seen.append(f"{case.method} {case.path} {response.status_code}")
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                assert response.json()["error"]["message"]

        never_500()
    assert len(seen) >= len(operations)
