"""Benchmark scripts (`make bench`). Not tests: pytest collects test_*.py only, so bench_*.py
modules here are never collected, and nothing asserts on time."""
