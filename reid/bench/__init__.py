"""Hold the benchmarks, which print figures and are never timed tests.

``python -m reid.bench <name> --help`` says how to run one.
"""
