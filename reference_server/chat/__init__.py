"""One chat turn, from validated input to stored answer, as transport-neutral events."""
