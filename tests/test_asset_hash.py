"""Lambda assets are reproducible: two builds give the engine's same hash.

``testing/asset_hash.py`` reimplements the engine's archive hash (a tar of name, mode 0600, size
and content, members sorted). Two builds from other checkout paths with other file times hash
the same, bytecode included (hash-checked, fixed ``/opt/python`` path). A build on another
Python than the runtime's would differ (bytecode only the runtime's Python makes): ``pulumi up``
refuses to start there, and a preview warns.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tarfile
from pathlib import Path

import pulumi
import pytest

import components.core.function as function_module
from components.config import ConfigError
from testing.asset_hash import _split, archive_hash, archive_tar
from testing.program import ROOT, run_program

# archive.go: the hash of an empty archive, which the engine treats as "no contents".
EMPTY_ARCHIVE_HASH = "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def test_the_empty_archive_hashes_as_the_engine_says():
    assert archive_hash(pulumi.AssetArchive({}), ROOT) == EMPTY_ARCHIVE_HASH


def test_headers_match_an_independent_ustar_writer_for_short_names(tmp_path):
    # Python's tarfile writes the same USTAR fields when told Go's values, except two: it
    # leaves the device numbers NUL where Go's templateV7Plus writes octal zeros (so the
    # checksum follows), and it pads the end to a 10 KiB record, which Go does not.
    (tmp_path / "a.py").write_bytes(b"print('a')\n")
    archive = pulumi.AssetArchive(
        {"b/a.py": pulumi.FileAsset("a.py"), "a.txt": pulumi.StringAsset("x")}
    )
    ours = archive_tar(archive, tmp_path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("a.txt", b"x"), ("b/a.py", b"print('a')\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uname, info.gname = len(data), 0o600, 0, "", ""
            tar.addfile(info, io.BytesIO(data))
    theirs = bytearray(buffer.getvalue()[: len(ours)])
    for start in (0, 1024):  # the two headers (each member is one block of data)
        theirs[start + 329 : start + 345] = b"0000000\0" * 2
        theirs[start + 148 : start + 156] = b" " * 8
        checksum = sum(theirs[start : start + 512])
        theirs[start + 148 : start + 156] = format(checksum, "o").rjust(6, "0").encode() + b"\0 "
    assert bytes(theirs) == ours


def test_long_names_split_like_gos_writer():
    name = "python/" + "d" * 60 + "/" + "e" * 60 + "/f.cpython-313.pyc"
    prefix, short = _split(name)
    assert prefix == "python/" + "d" * 60 + "/" + "e" * 60 and short == "f.cpython-313.pyc"
    with pytest.raises(ValueError, match="PAX"):
        _split("x/" + "y" * 120)


def copy_with_new_times(source: Path, target: Path, when: int) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*"):
        os.utime(path, (when, when))
    return target


@pytest.mark.parametrize("code", ["fp_ingestion", "salt_rotator", "calibration_query"])
def test_function_packages_hash_alike_from_two_checkouts(tmp_path, monkeypatch, code):
    hashes = set()
    for i, when in enumerate((1_000_000_000, 1_700_000_000)):
        checkout = tmp_path / f"checkout-{i}" / ("deep/" * i)
        copy_with_new_times(ROOT / "lambdas", checkout / "lambdas", when)
        monkeypatch.setattr(function_module, "LAMBDAS", checkout / "lambdas")
        hashes.add(archive_hash(function_module.package(code), checkout))
    assert len(hashes) == 1


def test_the_layer_with_bytecode_hashes_alike_from_two_checkouts(tmp_path, monkeypatch):
    # GIVEN a package installed in two places with other file times, compiled on this Python
    # as if it were the runtime's (as the deploy workflow's 3.13 compiles the real layer)
    monkeypatch.setattr(function_module, "runtime_version", lambda *_: sys.version_info[:2])
    package = tmp_path / "source" / "reprotest_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from reprotest_pkg.util import VALUE\n")
    (package / "util.py").write_text("VALUE = 42\n")
    hashes = set()
    for i, when in enumerate((1_000_000_000, 1_700_000_000)):
        site = copy_with_new_times(tmp_path / "source", tmp_path / f"site-{i}", when)
        monkeypatch.syspath_prepend(str(site))
        sys.modules.pop("reprotest_pkg", None)
        archive = function_module.layer_archive(("reprotest_pkg",), build_dir=tmp_path / f"b{i}")
        assert any(name.endswith(".pyc") for name in archive.assets), "bytecode ships"
        hashes.add(archive_hash(archive, Path("/")))
        monkeypatch.undo()
        monkeypatch.setattr(function_module, "runtime_version", lambda *_: sys.version_info[:2])
    assert len(hashes) == 1


def test_one_changed_byte_changes_the_hash(tmp_path):
    (tmp_path / "h.py").write_text("A = 1\n")
    archive = pulumi.AssetArchive({"handler.py": pulumi.FileAsset("h.py")})
    before = archive_hash(archive, tmp_path)
    (tmp_path / "h.py").write_text("A = 2\n")
    assert archive_hash(archive, tmp_path) != before
    assert before != hashlib.sha256(b"").hexdigest()


def test_pulumi_up_on_another_python_refuses_and_a_preview_warns():
    with pytest.raises(ConfigError) as refused:
        run_program("staging", python=(3, 12))
    assert "Python 3.13 only" in str(refused.value) and "this is Python 3.12" in str(refused.value)
    preview = run_program("staging", python=(3, 12), preview=True)
    assert any("shows the layer as changed" in w for w in preview.warnings)
