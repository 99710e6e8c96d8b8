"""The recording proxy: point a backend's OpenAI base URL at it to see every AI call."""

from chatopt.tap.calls import AICall, read_trace
from chatopt.tap.faults import Fault, FaultPlan, parse_fault
from chatopt.tap.proxy import TapProxy
from chatopt.tap.server import TapServer

__all__ = ["AICall", "Fault", "FaultPlan", "TapProxy", "TapServer", "parse_fault", "read_trace"]
