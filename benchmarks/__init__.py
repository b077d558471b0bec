"""Benchmarks of the DCS client library against the official SDK: ``python -m benchmarks [--quick]``."""
