"""The chat-aware load generator: locust runners, chat users, load shapes, samples, self-check."""
