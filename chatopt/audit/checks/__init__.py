"""Every audit check, in the order the runner uses.

Conversation-based checks come first (they share one scripted conversation), then
single probes, the intrusive ones, the load probes (the py-spy one first: with ``--pid``
the user asked for it, so it gets time before the generic canary), and the burst last
because it may trip the backend's rate limiter for the rest of the hour.
"""

from chatopt.audit.checks.ai_calls import AICallsCheck
from chatopt.audit.checks.base import Check
from chatopt.audit.checks.caching import CacheCheck
from chatopt.audit.checks.concurrency import ConcurrencyCheck
from chatopt.audit.checks.context import ContextGrowthCheck
from chatopt.audit.checks.database import DatabaseCheck
from chatopt.audit.checks.errors import UpstreamErrorsCheck
from chatopt.audit.checks.event_loop import EventLoopCheck
from chatopt.audit.checks.input_limits import InputLimitsCheck
from chatopt.audit.checks.latency import LatencySplitCheck
from chatopt.audit.checks.memory import MemoryCheck
from chatopt.audit.checks.models import ModelRoutingCheck
from chatopt.audit.checks.monitoring import MonitoringCheck
from chatopt.audit.checks.rate_limit import RateLimitCheck
from chatopt.audit.checks.redis_cache import RedisCacheCheck
from chatopt.audit.checks.streaming import StreamingCheck
from chatopt.audit.checks.transport import TransportCheck
from chatopt.audit.checks.xss import XssCheck

ALL_CHECKS: tuple[type[Check], ...] = (
    TransportCheck,
    StreamingCheck,
    LatencySplitCheck,
    AICallsCheck,
    ContextGrowthCheck,
    CacheCheck,
    ModelRoutingCheck,
    MonitoringCheck,
    XssCheck,
    InputLimitsCheck,
    UpstreamErrorsCheck,
    EventLoopCheck,
    ConcurrencyCheck,
    MemoryCheck,
    DatabaseCheck,
    RedisCacheCheck,
    RateLimitCheck,
)

CHECKS_BY_ID: dict[str, type[Check]] = {check.id: check for check in ALL_CHECKS}

__all__ = ["ALL_CHECKS", "CHECKS_BY_ID", "Check"]
