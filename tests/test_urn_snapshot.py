"""Stable identity: every URN and stack output name matches tests/snapshots/<stack>.json.

A URN change without an alias makes ``pulumi up`` delete the old resource and create a new
one. When the difference is intended, rewrite the snapshot with ``python -m tools.snapshot``.
The rename tests run a small program through the same harness: renaming a component child
without an alias fails the comparison, with an alias it passes.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from testing.program import ProgramRun, run_program
from tools import snapshot

STACKS = ("staging", "production")


@pytest.mark.parametrize("stack", STACKS)
def test_urns_and_outputs_match_the_committed_snapshot(request, stack):
    run: ProgramRun = request.getfixturevalue(stack)
    difference = snapshot.compare(snapshot.load(stack), run)
    assert not difference, difference.message()


def test_remote_components_are_never_aliased_or_re_parented(production):
    # Aliases into or out of a remote component are unreliable (pulumi/pulumi#17278).
    remote = [r for r in production if r.type.startswith("eks:index:")]
    assert remote, "no pulumi-eks component registered"
    recorded = set(snapshot.load("production")["urns"])
    for resource in remote:
        assert not resource.aliases, f"{resource.urn} carries aliases"
        assert resource.urn in recorded, f"{resource.urn} is not the URN in the snapshot"


def test_the_rewrite_command_writes_what_the_test_reads(tmp_path, staging):
    path = snapshot.write(staging, tmp_path)
    assert json.loads(path.read_text())["urns"] == sorted(r.urn for r in staging)
    assert not snapshot.compare(snapshot.load("staging", tmp_path), staging)


def test_a_missing_or_foreign_snapshot_says_how_to_create_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"python -m tools\.snapshot qa"):
        snapshot.load("qa", tmp_path)
    (tmp_path / "qa.json").write_text('{"resources": []}')
    with pytest.raises(ValueError, match="not a URN snapshot"):
        snapshot.load("qa", tmp_path)


# --- renaming and moving under aliases, with a small program --------------------------------

STORE_TYPE = "test:index:Store"
TABLE_ARGS = 'hash_key="id", attributes=[aws.dynamodb.TableAttributeArgs(name="id", type="S")]'


def program(directory: Path, body: str) -> ProgramRun:
    """Run ``body`` (after the components' definitions) as a program for stack ``staging``."""
    directory.mkdir(parents=True)
    (directory / "Pulumi.staging.yaml").write_text("config:\n  aws:region: us-east-1\n")
    source = textwrap.dedent(
        f"""
        import pulumi
        import pulumi_aws as aws

        def table(name, **opts):
            return aws.dynamodb.Table(name, {TABLE_ARGS}, opts=pulumi.ResourceOptions(**opts))

        class Store(pulumi.ComponentResource):
            def __init__(self, name, table_name=None, aliases=(), opts=None):
                super().__init__("{STORE_TYPE}", name, None, opts)
                if table_name:
                    table(table_name, parent=self, aliases=list(aliases))
                self.register_outputs({{}})

        class Outer(pulumi.ComponentResource):
            def __init__(self, name, store_aliases=()):
                super().__init__("test:index:Outer", name, None, None)
                opts = pulumi.ResourceOptions(parent=self, aliases=list(store_aliases))
                Store("store", table_name="store-table", opts=opts)
                self.register_outputs({{}})
        """
    ) + textwrap.dedent(body)
    (directory / "__main__.py").write_text(source)
    return run_program("staging", program=directory / "__main__.py", root=directory)


PREFIX = "urn:pulumi:staging::phase-mirror-infra::"
OLD_STORE = f"{PREFIX}{STORE_TYPE}::store"
OLD_CHILD = f"{PREFIX}{STORE_TYPE}$aws:dynamodb/table:Table::store-table"


@pytest.fixture
def recorded(tmp_path) -> dict:
    """The snapshot of the original program: component ``store`` with child ``store-table``."""
    record = snapshot.record(program(tmp_path / "v1", 'Store("store", table_name="store-table")'))
    assert {OLD_STORE, OLD_CHILD} <= set(record["urns"])
    return record


def test_renaming_a_child_without_an_alias_fails_listing_both_urns(tmp_path, recorded):
    renamed = program(tmp_path / "v2", 'Store("store", table_name="store-events")')
    difference = snapshot.compare(recorded, renamed)
    assert difference.removed == [OLD_CHILD]
    assert difference.added == [OLD_CHILD.replace("store-table", "store-events")]
    message = difference.message()
    assert OLD_CHILD in message and "python -m tools.snapshot staging" in message


def test_renaming_a_child_with_an_alias_keeps_its_identity(tmp_path, recorded):
    renamed = program(
        tmp_path / "v3",
        'Store("store", table_name="store-events", aliases=[pulumi.Alias(name="store-table")])',
    )
    difference = snapshot.compare(recorded, renamed)
    assert not difference, difference.message()
    assert difference.moved == {OLD_CHILD: OLD_CHILD.replace("store-table", "store-events")}


def test_moving_a_child_out_of_its_component_needs_an_alias_naming_the_old_parent(
    tmp_path, recorded
):
    moved = f"{PREFIX}aws:dynamodb/table:Table::store-table"
    without = program(tmp_path / "v4", 'store = Store("store")\ntable("store-table")')
    difference = snapshot.compare(recorded, without)
    assert (difference.removed, difference.added) == ([OLD_CHILD], [moved])
    with_alias = program(
        tmp_path / "v5",
        'store = Store("store")\ntable("store-table", aliases=[pulumi.Alias(parent=store)])',
    )
    difference = snapshot.compare(recorded, with_alias)
    assert not difference, difference.message()
    assert difference.moved == {OLD_CHILD: moved}


def test_moving_a_component_into_another_carries_its_children_with_one_alias(tmp_path, recorded):
    nested = f"{PREFIX}test:index:Outer$"
    without = snapshot.compare(recorded, program(tmp_path / "v6", 'Outer("outer")'))
    # The engine's URN holds the whole parent chain: the grandchild's URN changes too.
    assert set(without.removed) == {OLD_STORE, OLD_CHILD}
    assert f"{nested}{STORE_TYPE}$aws:dynamodb/table:Table::store-table" in without.added
    with_alias = snapshot.compare(
        recorded,
        program(tmp_path / "v7", 'Outer("outer", store_aliases=[pulumi.Alias(parent=None)])'),
    )
    assert not with_alias.removed, with_alias.message()
    assert set(with_alias.moved) == {OLD_STORE, OLD_CHILD}
    assert with_alias.added == [f"{PREFIX}test:index:Outer::outer"]


def test_the_rewrite_command_refuses_a_stack_without_a_stack_file(capsys):
    assert snapshot.main(["qa"]) == 2
    assert "Pulumi.qa.yaml" in capsys.readouterr().err
