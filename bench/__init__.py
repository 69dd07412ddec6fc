"""Benchmarks: speed and cost are measured here, never asserted as timings in tests."""
