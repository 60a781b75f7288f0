"""Benchmarks of the bot against the sandbox's stand-ins: ack latency, API calls, memory.

Measurements, not tests: nothing here asserts a timing. ``python -m benchmarks``
runs them all and prints one plain-text table each; see ``benchmarks/README.md``.
"""
