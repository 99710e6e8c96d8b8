"""Server fixtures shared with the monitoring tests."""

from tests.observability.conftest import monitored_server  # noqa: F401
