"""The one test harness: the whole program under mocks, for each real stack file.

``staging`` and ``production`` are session-scoped runs of ``__main__.py`` with the config of
``Pulumi.<stack>.yaml`` (testing/program.py); ``program`` runs every test once per stack
and once more per stack in preview mode.
``run_program`` is also importable for tests that change config.
"""

from __future__ import annotations

import functools

import pytest

from testing.program import ProgramRun, run_program

STACKS = ("staging", "production")


@pytest.fixture(scope="session")
def staging() -> ProgramRun:
    return run_program("staging")


@pytest.fixture(scope="session")
def production() -> ProgramRun:
    return run_program("production")


@functools.cache
def preview_run(stack: str) -> ProgramRun:
    """``stack`` run as ``pulumi preview`` runs it (``set_mocks(..., preview=True)``)."""
    return run_program(stack, preview=True)


# Every component test runs for both stacks, as an update and as a preview: the
# program must register the same resources either way (tests/test_preview_mode.py).
@pytest.fixture(
    scope="session",
    params=[(stack, preview) for preview in (False, True) for stack in STACKS],
    ids=lambda param: param[0] + ("-preview" if param[1] else ""),
)
def program(request: pytest.FixtureRequest) -> ProgramRun:
    stack, preview = request.param
    return preview_run(stack) if preview else request.getfixturevalue(stack)
