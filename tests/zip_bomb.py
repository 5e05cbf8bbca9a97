"""A real zip bomb, made in a second: members of zeros that inflate to gigabytes.

Deflating a gigabyte takes a core ten seconds, so the stream is made by repetition: after a full
flush deflate starts afresh, so a mebibyte of zeros deflates to the same bytes every time, and
those bytes repeated are a valid stream of as many mebibytes. The zip is then written field by
field (zipfile cannot take data already deflated).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_MIB = 1 << 20


def _deflated_zeros(mebibytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``mebibytes`` MiB of zeros, and its CRC-32."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = compressor.compress(bytes(_MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = one * mebibytes + compressor.flush(zlib.Z_FINISH)
    crc = 0
    zeros = bytes(_MIB)
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    return stream, crc


def write_zip_bomb(path: Path, members: dict[str, int], small: dict[str, bytes] | None = None) -> None:
    """A zip whose ``members`` (name -> MiB of zeros) are deflated and whose ``small`` ones are stored."""
    entries = []
    with path.open("wb") as handle:
        for name, payload in [
            *((n, _deflated_zeros(m) + (m * _MIB, 8)) for n, m in members.items()),
            *((n, (data, zlib.crc32(data), len(data), 0)) for n, data in (small or {}).items()),
        ]:
            data, crc, size, method = payload
            encoded = name.encode()
            offset = handle.tell()
            handle.write(
                struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0)
            )
            handle.write(encoded + data)
            entries.append((encoded, crc, len(data), size, method, offset))
        directory = handle.tell()
        for encoded, crc, compressed, size, method, offset in entries:
            handle.write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    20,
                    20,
                    0,
                    method,
                    0,
                    0x21,
                    crc,
                    compressed,
                    size,
                    len(encoded),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
            )
            handle.write(encoded)
        end = handle.tell()
        handle.write(
            struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), end - directory, directory, 0)
        )
