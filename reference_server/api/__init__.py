"""The HTTP API: chat, conversation history, OpenAPI document, chat page, debug figures."""
