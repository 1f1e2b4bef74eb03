"""Benchmarks (run as scripts: python bench/NAME.py) and the services they start."""
