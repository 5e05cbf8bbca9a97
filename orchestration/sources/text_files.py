"""Checks every upstream text file passes before a parser looks at its content."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class InputFileError(ValueError):
    """An upstream file that is empty, not UTF-8, or cut off; the message names file and line."""


def read_utf8(path: Path) -> str:
    """The whole file as text, or an error naming the line that is not UTF-8 or was cut off."""
    raw = path.read_bytes()
    if not raw.strip():
        raise InputFileError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputFileError(
            f"{path}: line {line}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at offset "
            f"{error.start}); upstream files are UTF-8, was it re-saved in another encoding?"
        ) from None
    if not text.endswith("\n"):
        # Every upstream export ends with a newline; a last line without one was cut off.
        raise InputFileError(f"{path}: line {text.count(chr(10)) + 1}: the file ends mid-row (truncated)")
    return text


def parsed_once(parse: Callable[[Path], T]) -> Callable[[Path], T]:
    """``parse`` of a config file, read once per process while the file stays as it is."""
    cached = lru_cache(maxsize=8)(lambda path, _version: parse(path))

    def read(path: Path) -> T:
        info = path.stat()
        return cached(Path(path).resolve(), (info.st_mtime_ns, info.st_size))

    return read
