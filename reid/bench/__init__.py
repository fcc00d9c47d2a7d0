"""Benchmarks that print figures (never timed tests): ``python -m reid.bench <name> --help``."""
