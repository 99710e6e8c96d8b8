"""Fixtures of the routing tests: the mock LLM with per-model faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.routing.faulty_mock import FaultyMock


@pytest.fixture(scope="module")
def faulty_mock() -> Iterator[FaultyMock]:
    mock = FaultyMock()
    mock.start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def mock(faulty_mock: FaultyMock) -> Iterator[FaultyMock]:
    faulty_mock.injector.faults.clear()
    faulty_mock.injector.requests.clear()
    yield faulty_mock
    faulty_mock.injector.faults.clear()
