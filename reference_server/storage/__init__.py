"""Chat history storage: one async interface, several tiers behind it."""
