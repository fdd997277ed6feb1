"""Harness shared by the tests and the benchmark (which must not import from tests/): handlers
loaded as Lambda loads them, the contract's tables in moto, the salt, the org key, HTTP API
events of each caller."""
