"""Harnesses shared by tests/, bench/ and tools/, which must not import from tests/: IAM policy
evaluation, handlers loaded as Lambda loads them, the contract's tables in moto, the salt, the org
key, HTTP API events of each caller."""
