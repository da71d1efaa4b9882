"""The lines of a history file, plain or zstd-compressed, numbered as `str.splitlines` numbers them.

Both readers use this: `read_history` (records in memory) and the checker's stream (`reader`), so a line's
number, and so the `file:line` that cites it as evidence, is the same whichever read it. A compressed history
(`.jsonl.zst`, recognised by its magic number, whatever its name) needs the `zstandard` package.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from harness.core.errors import HarnessError

CHUNK = 1 << 20
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ODD_ASCII = (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")  # line breaks to str.splitlines besides \n
_ODD_UTF8 = ("\x85".encode(), "\u2028".encode(), "\u2029".encode())


def open_history(path: str | os.PathLike[str]) -> BinaryIO:
    """A history file opened for reading, decompressed on the fly when it is zstd."""
    raw = open(path, "rb")  # noqa: SIM115 - returned open: the caller closes it
    magic = raw.read(4)
    raw.seek(0)
    if magic != ZSTD_MAGIC:
        return raw
    try:
        import zstandard
    except ModuleNotFoundError:
        raw.close()
        raise HarnessError(
            f"history {path} is zstd-compressed and zstandard is not installed: pip install 'zstandard>=0.22'"
        ) from None
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
    return io.BufferedReader(reader, CHUNK)


def numbered_blocks(stream: BinaryIO) -> Iterator[tuple[int, Sequence[bytes | str], bool]]:
    """The lines in blocks of about a megabyte: (number of the first, lines without their ends, last block?).

    Lines are split at \\n; a block holding another line break that `str.splitlines` honours (\\r, \\x0b,
    \\u2028, ...) is split as text instead, so numbers match `splitlines` on any file. History writes none
    of those (JSON escapes them), so its files take the fast path.
    """
    number, rest = 1, b""
    held: Sequence[bytes | str] | None = None
    while True:
        chunk = stream.read(CHUNK)
        if chunk:
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            block, rest = data[:cut], data[cut:]
        else:
            block, rest = rest, b""
        if block:
            if held is not None:
                yield number, held, False
                number += len(held)
            held = _split(block)
        if not chunk:
            if held is not None:
                yield number, held, True
            return


def _split(block: bytes) -> Sequence[bytes | str]:
    if any(c in block for c in _ODD_ASCII) or (not block.isascii() and any(c in block for c in _ODD_UTF8)):
        return block.decode("utf-8").splitlines()
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    return lines
