"""Benchmarks: each compares exops with a named alternative and prints the ratio; `python -m
bench` runs them all and writes docs/performance.md (see run_all.py). Not tests."""
