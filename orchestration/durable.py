"""Writes that survive a crash: a file is whole under its name or not there, and so is its rename.

Every record the warehouse depends on (provenance.json, the staging and promotion records, the
publication record) and every file it keeps is written through here: a temporary file beside the
target, fsync, rename over the target, fsync of the folder. Temporary files start with a dot, so
nothing that lists snapshots mistakes one for data, and a sweep after a crash finds them.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-"
_BLOCK = 1 << 20


def fsync(path: Path) -> None:
    """Flush a file's bytes, or a folder's entries (a rename is durable only once its folder is)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporary_beside(target: Path) -> Path:
    return target.with_name(f"{TEMPORARY_PREFIX}{target.name}.{uuid.uuid4().hex[:12]}")


def write_atomic(target: Path, data: bytes | str) -> None:
    """``target`` holds ``data`` whole, or what it held before, whenever the process dies."""
    content = data.encode("utf-8") if isinstance(data, str) else data
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = temporary_beside(target)
    try:
        with staged.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    fsync(target.parent)


def copy_atomic(source: Path | int, target: Path) -> str:
    """Copy ``source`` (a path, or an open descriptor read from where it stands) to ``target`` as
    ``write_atomic`` does, streamed; returns the sha256 of the bytes written, re-read from disk."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = temporary_beside(target)
    digest = hashlib.sha256()
    try:
        with open(source, "rb", closefd=not isinstance(source, int)) as reader, staged.open("wb") as writer:
            while block := reader.read(_BLOCK):
                digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
        if sha256_of(staged) != digest.hexdigest():
            raise OSError(f"{target}: the copy written does not read back as the bytes copied")
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    fsync(target.parent)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def sweep(folder: Path) -> list[Path]:
    """Remove the temporary files a killed write left in ``folder``; returns what was removed."""
    if not folder.is_dir():
        return []
    left = [path for path in folder.iterdir() if path.name.startswith(TEMPORARY_PREFIX) and path.is_file()]
    for path in left:
        path.unlink(missing_ok=True)
    return left
