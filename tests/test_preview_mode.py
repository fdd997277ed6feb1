"""The program registers the same resources in a preview as in an update.

In a real ``pulumi preview`` the outputs of resources still to be created are unknown and
``apply`` callbacks on them never run, so a resource created inside an ``apply`` silently
disappears from the preview (pulumi/pulumi#8172). The stock
``set_mocks(..., preview=True)`` still answers every output, which cannot show that; the harness'
``unknowns`` mode answers like the engine previewing a first deployment (inputs only, no id,
no computed outputs). tests/conftest.py also runs every component test in preview mode.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest
from pulumi.output import Unknown

from testing.program import ProgramRun, run_program

STACKS = ("staging", "production")


@functools.cache
def first_preview(stack: str) -> ProgramRun:
    """``stack`` previewed before its first deployment: every computed output unknown.

    With the team's operator values, as the update it is compared with has them."""
    return run_program(stack, unknowns=True, team=True)


def only_in_one_mode(update: ProgramRun, preview: ProgramRun) -> str:
    missing = sorted({r.urn for r in update} - {r.urn for r in preview})
    extra = sorted({r.urn for r in preview} - {r.urn for r in update})
    return "\n".join(
        [
            f"registered in an update but not in a preview (created inside an apply?): {u}"
            for u in missing
        ]
        + [f"registered only in a preview: {u}" for u in extra]
    )


@pytest.mark.parametrize("stack", STACKS)
def test_a_preview_with_unknown_outputs_registers_the_same_urns(request, stack):
    update: ProgramRun = request.getfixturevalue(stack)
    preview = first_preview(stack)
    assert len(update.resources) == len(preview.resources)
    difference = only_in_one_mode(update, preview)
    assert not difference, difference


def test_unknown_mode_really_leaves_computed_outputs_unknown():
    preview = first_preview("staging")
    # An ARN is computed by AWS: unknown in a first preview, so nothing may be built from it.
    assert preview.outputs["calibrationKeyArn"] is None
    table = preview.one("aws:dynamodb/table:Table", "calibration-store-consent-store")
    assert isinstance(table.inputs["serverSideEncryption"]["kmsKeyArn"], Unknown), table.urn


def test_a_resource_created_inside_an_apply_is_caught(tmp_path: Path):
    (tmp_path / "Pulumi.staging.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi_aws as aws

            key = aws.kms.Key("key")
            key.arn.apply(lambda arn: aws.kms.Alias("alias", name="alias/x", target_key_id=arn))
            """
        )
    )
    kwargs = {"program": tmp_path / "__main__.py", "root": tmp_path}
    difference = only_in_one_mode(
        run_program("staging", **kwargs), run_program("staging", unknowns=True, **kwargs)
    )
    assert "aws:kms/alias:Alias::alias" in difference, difference
