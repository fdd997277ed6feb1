"""The one test harness: the whole program under mocks, for each real stack file.

``staging`` and ``production`` are session-scoped runs of ``__main__.py`` with the config of
``Pulumi.<stack>.yaml`` (tools/mock_program.py); ``program`` runs every test once per stack.
``run_program`` is also importable for tests that change config.
"""

from __future__ import annotations

import pytest

from tools.mock_program import ProgramRun, run_program

STACKS = ("staging", "production")


@pytest.fixture(scope="session")
def staging() -> ProgramRun:
    return run_program("staging")


@pytest.fixture(scope="session")
def production() -> ProgramRun:
    return run_program("production")


@pytest.fixture(scope="session", params=STACKS)
def program(request: pytest.FixtureRequest) -> ProgramRun:
    return request.getfixturevalue(request.param)
