"""Harnesses shared by tests/, bench/ and tools/ (policy evaluation, ...)."""
