"""An OpenAI-compatible mock LLM: latency tiers, deterministic answers, faults, real embeddings.

``create_app(config)`` gives the ASGI app; ``MockLLMServer`` runs it in a background
thread (tests, demos); ``chatopt mock-llm`` serves it from the command line.
"""

from chatopt.mockllm.app import MockLLM, create_app
from chatopt.mockllm.config import DEFAULT_MODELS, DEFAULT_TIERS, Faults, MockConfig, Tier, load_config
from chatopt.mockllm.faults import FAULT_HEADER
from chatopt.mockllm.server import MockLLMServer

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_TIERS",
    "FAULT_HEADER",
    "Faults",
    "MockConfig",
    "MockLLM",
    "MockLLMServer",
    "Tier",
    "create_app",
    "load_config",
]
