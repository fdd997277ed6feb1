"""The Pulumi engine's hash of an asset archive, reimplemented to prove builds reproducible.

The engine decides whether a Lambda's code changed by this hash alone
(pulumi/pulumi ``sdk/go/common/resource/archive/archive.go``: ``EnsureHashWithWD`` writes the
archive as tar into SHA-256; ``readAssets`` sorts member names; ``addNextFileToTar`` writes each
member with only its name, mode 0600 and size; ``archiveTar`` ends with Go's two zero blocks).
So file times, owners and the checkout's path never reach the hash; names and bytes do. The
header bytes follow Go's ``archive/tar`` USTAR writer (``writeUSTARHeader``: zero mtime, empty
owner names, octal fields zero-padded with a NUL, the checksum's NUL and space, a long name split
at the last ``/`` that leaves at most 100 characters). A name that USTAR cannot hold would make Go
switch to PAX headers; ``archive_hash`` refuses it rather than guess.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi

BLOCK = 512
NAME, PREFIX = 100, 155


def _field(value: bytes, size: int) -> bytes:
    if len(value) > size:
        raise ValueError(f"{value!r} does not fit {size} bytes")
    return value + b"\0" * (size - len(value))


def _octal(number: int, size: int) -> bytes:
    return _field(format(number, "o").rjust(size - 1, "0").encode(), size)


def _split(name: str) -> tuple[str, str]:
    """Go's ``splitUSTARPath``: (prefix, name), cut at the last '/' that fits."""
    if len(name) <= NAME:
        return "", name
    length = min(len(name), PREFIX + 1)
    if length == len(name) and name.endswith("/"):
        length -= 1
    cut = name.rfind("/", 0, length)
    if cut <= 0 or len(name) - cut - 1 > NAME or cut == len(name) - 1 or cut > PREFIX:
        raise ValueError(f"{name!r}: Go would write a PAX header, which this module does not")
    return name[:cut], name[cut + 1 :]


def ustar_header(name: str, size: int) -> bytes:
    if not name.isascii():
        raise ValueError(f"{name!r}: Go would write a PAX header for a non-ASCII name")
    prefix, short = _split(name)
    head = (
        _field(short.encode(), 100)
        + _octal(0o600, 8)  # mode
        + _octal(0, 8)  # uid
        + _octal(0, 8)  # gid
        + _octal(size, 12)
        + _octal(0, 12)  # mtime: Go writes the zero time as 0
        + b" " * 8  # checksum, counted as spaces
        + b"0"  # regular file
        + _field(b"", 100)  # link name
        + b"ustar\x0000"
        + _field(b"", 32)  # user name
        + _field(b"", 32)  # group name
        + _octal(0, 8)  # device major
        + _octal(0, 8)  # device minor
        + _field(prefix.encode(), PREFIX)
    )
    head = _field(head, BLOCK)
    checksum = format(sum(head), "o").rjust(6, "0").encode() + b"\0 "
    return head[:148] + checksum + head[156:]


def member_bytes(asset: pulumi.Asset, root: Path) -> bytes:
    if isinstance(asset, pulumi.FileAsset):
        return (root / str(asset.path)).read_bytes()
    if isinstance(asset, pulumi.StringAsset):
        return str(asset.text).encode()
    raise TypeError(f"{type(asset).__name__}: not modelled here")


def archive_tar(archive: pulumi.AssetArchive, root: Path) -> bytes:
    """The tar stream the engine hashes; FileAsset paths resolve against ``root`` (its cwd)."""
    out = bytearray()
    for name in sorted(archive.assets):
        asset = archive.assets[name]
        if not isinstance(asset, pulumi.Asset):
            raise TypeError(f"{name}: nested archives are not modelled here")
        data = member_bytes(asset, root)
        out += ustar_header(name, len(data)) + data + b"\0" * (-len(data) % BLOCK)
    return bytes(out + b"\0" * (2 * BLOCK))


def archive_hash(archive: pulumi.AssetArchive, root: Path) -> str:
    return hashlib.sha256(archive_tar(archive, root)).hexdigest()
