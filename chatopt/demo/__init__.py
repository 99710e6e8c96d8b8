"""``chatopt demo``: the before/after story on one machine, measured end to end."""
