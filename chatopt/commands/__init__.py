"""CLI command modules: each parses its options and calls an engine, then renders."""
