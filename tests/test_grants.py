"""Grants: a component grants its own resources to a role, and only to roles its key policy
names; nothing can be granted once the role's policy is registered."""

from __future__ import annotations

import pytest

from components.core.grants import Grants
from testing.program import run_program


def test_a_grant_after_the_policy_is_built_is_refused():
    grants = Grants("fp-ingestion").add({"Sid": "A"})
    assert grants.close() == [{"Sid": "A"}]
    with pytest.raises(RuntimeError, match="already registered"):
        grants.add({"Sid": "B"})


def test_a_role_the_key_policy_does_not_name_is_refused():
    with pytest.raises(ValueError, match="calibration-query is not among the roles the salt key"):
        Grants("calibration-query").require({"fp-ingestion"}, "the salt key")


def test_the_program_refuses_a_table_user_the_tables_key_does_not_name(monkeypatch):
    # GIVEN the program telling the tables' key about one function fewer than use the tables
    from components.service import calibration_service

    monkeypatch.setattr(calibration_service, "PSEUDONYM_FUNCTIONS", ("fp-ingestion", "fp-consent"))
    # WHEN it runs THEN the admission function's table grant stops it, naming the key
    with pytest.raises(ValueError, match="fp-admission is not among the roles the tables' key"):
        run_program("staging", preview=True)
