"""What the model sees each turn: the full history (baseline) or a bounded window (P4)."""
