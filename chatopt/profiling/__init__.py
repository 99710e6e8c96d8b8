"""Profilers for a running backend: psutil sampling, py-spy stacks, memray allocations."""
