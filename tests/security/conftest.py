"""Server fixtures shared with the monitoring and reference-server tests."""

from tests.observability.conftest import monitored_server  # noqa: F401
from tests.reference_server.conftest import upstream  # noqa: F401
