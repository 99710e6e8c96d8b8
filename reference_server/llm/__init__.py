"""The upstream LLM: one shared OpenAI-compatible async client per app."""
