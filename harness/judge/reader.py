"""Histories as a stream: JSONL files, plain or zstd-compressed, decoded line by line and merged by wall time.

The checker reads a history once, in order, holding only what it judges; this module gives it that order. Each
entry is `(wall, ref, record)`: `ref` names the line (`file index << 40 | line number`) so that evidence can be
read back in full at the end (`resolve`) instead of being kept; `record` is a light view of the line with the
fields the judge reads (`RecordLike`). Lines are numbered, skipped and refused exactly as `read_history` does.

Decoding, measured on 1 M recorded lines (bench/check_bench.py --layers): msgspec into a typed struct ~460,000
lines/s, orjson ~440,000, msgspec into dicts ~360,000, stdlib json ~95,000; the struct also skips the fields the
judge never reads and gives attributes, not dicts. Without msgspec the reader falls back to stdlib json.
A history may be zstd-compressed (`.jsonl.zst`, recognised by its magic number; needs `zstandard`).

Merging: a file is sorted by wall time through a window (records may be written up to `WINDOW_S` out of order,
as threads sharing a History do); a record further out of order raises `OutOfOrder`, and the caller judges again
with `exact=True`, which sorts each file in memory. Files are merged by (wall, file, line): the order of a stable
sort of their concatenation, which is `read_history`'s.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import operator
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import fields
from functools import cache
from typing import Any, Protocol

from harness.core.errors import HarnessError
from harness.judge.facts import FILE_SHIFT, Facts
from harness.judge.history import Record, parse_record
from harness.judge.lines import numbered_blocks, open_history

LINE_MASK = (1 << FILE_SHIFT) - 1
WINDOW_S = 2.0  # how far out of wall-time order a record may be written within one file
WINDOW_CAP = 200_000  # records held for reordering at most, whatever their wall times
_RECORD_FIELDS = frozenset(f.name for f in fields(Record)) - {"source"}


class RecordLike(Protocol):
    """What the judge reads of a record: a `Record`, or the reader's light view of a line."""

    @property
    def type(self) -> str: ...
    @property
    def wall(self) -> float: ...
    @property
    def op(self) -> str: ...
    @property
    def op_id(self) -> str: ...
    @property
    def job_id(self) -> str | None: ...
    @property
    def client_request_id(self) -> str | None: ...
    @property
    def follower(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def progress(self) -> float | None: ...
    @property
    def attempts(self) -> int | None: ...
    @property
    def http_status(self) -> int | None: ...
    @property
    def latency_s(self) -> float | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def event(self) -> str | None: ...
    @property
    def event_id(self) -> int | None: ...
    @property
    def expect_s(self) -> float | None: ...
    @property
    def retry_after(self) -> bool | None: ...
    @property
    def last_event_id(self) -> int | None: ...
    @property
    def first_event_s(self) -> float | None: ...
    @property
    def max_gap_s(self) -> float | None: ...
    @property
    def checksum_ok(self) -> bool | None: ...
    @property
    def size(self) -> int | None: ...
    @property
    def fault(self) -> str | None: ...
    @property
    def target(self) -> str | None: ...
    @property
    def start_wall(self) -> float | None: ...
    @property
    def start_mono(self) -> float | None: ...
    @property
    def end_wall(self) -> float | None: ...
    @property
    def end_mono(self) -> float | None: ...
    @property
    def invoke_wall(self) -> float: ...


Entry = tuple[float, int, RecordLike]  # (wall, ref, record)
_WALL = operator.itemgetter(0)
_PLACE = operator.itemgetter(0, 1)
BLOCK = 256  # records per block: small enough to stay in the CPU's caches


class OutOfOrder(HarnessError):
    """A record lies further out of wall-time order than the reading window; judge again with exact=True."""


class _Views:
    """How lines become records: msgspec into a light struct when installed, else stdlib json into Record."""

    def __init__(self) -> None:
        self.fast: Callable[[bytes | str], RecordLike] | None = None
        self.build: Callable[..., RecordLike] = Record
        self.names: frozenset[str] = _RECORD_FIELDS
        try:
            import msgspec
        except ModuleNotFoundError:
            return
        line = _line_struct(msgspec)
        self.fast = msgspec.json.Decoder(line).decode
        self.build, self.names = line, frozenset(line.__struct_fields__)

    def slow(self, text: bytes | str) -> RecordLike:
        """read_history's reading of a line, into the light view (ValueError or TypeError: not a record)."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise TypeError(f"a record is a JSON object, not {type(raw).__name__}")
        return self.build(**{k: v for k, v in raw.items() if k in self.names})


@cache
def _views() -> _Views:
    return _Views()


def _line_struct(msgspec: Any) -> Any:
    """The light record: the fields the judge and the report read; ints stay ints (no float coercion)."""

    class Line(msgspec.Struct, gc=False):  # type: ignore[misc, call-arg, unused-ignore]
        type: str
        wall: int | float
        mono: int | float
        op: str = ""
        op_id: str = ""
        job_id: str | None = None
        client_request_id: str | None = None
        follower: str | None = None
        status: str | None = None
        progress: int | float | None = None
        attempts: int | None = None
        http_status: int | None = None
        latency_s: int | float | None = None
        error: str | None = None
        event: str | None = None
        event_id: int | None = None
        last_event_id: int | None = None
        first_event_s: int | float | None = None
        max_gap_s: int | float | None = None
        checksum_ok: bool | None = None
        size: int | None = None
        expect_s: int | float | None = None
        retry_after: bool | None = None
        fault: str | None = None
        kind: str | None = None
        target: str | None = None
        start_wall: int | float | None = None
        start_mono: int | float | None = None
        end_wall: int | float | None = None
        end_mono: int | float | None = None

        @property
        def invoke_wall(self) -> float:
            return self.wall - (self.latency_s or 0.0)

    return Line


def _file_blocks(path: str | os.PathLike[str], base: int) -> Iterator[list[Entry]]:
    """One file's records in line order, a few hundred at a time (decoded in small blocks, the records stay in
    the CPU's caches until the index has seen them: 3x faster than 4,000-line blocks, measured); blank lines
    skipped, a cut final line skipped."""
    views = _views()
    fast = views.fast
    with open_history(path) as stream:
        for first, lines, last_block in numbered_blocks(stream):
            for at in range(0, len(lines), BLOCK):
                part = lines[at : at + BLOCK]
                if fast is not None:
                    try:
                        yield [(r.wall, base | n, r) for n, r in enumerate(map(fast, part), first + at)]
                        continue
                    except ValueError:
                        pass
                final = last_block and at + BLOCK >= len(lines)
                yield list(_line_by_line(views, path, base, first + at, part, final))


def _line_by_line(
    views: _Views, path: object, base: int, first: int, lines: Sequence[bytes | str], last_block: bool
) -> Iterator[Entry]:
    """A block the fast decoder refused: each line read as read_history reads it, or refused naming it."""
    for number, text in enumerate(lines, first):
        if not text.strip():
            continue
        try:
            rec = views.fast(text) if views.fast is not None else views.slow(text)
        except ValueError:
            try:
                rec = views.slow(text)
            except (ValueError, TypeError) as exc:
                if last_block and number == first + len(lines) - 1:
                    continue
                raise HarnessError(
                    f"history line {path}:{number} is not a record ({exc}); was it written by History?"
                ) from None
        yield rec.wall, base | number, rec


def _in_order(blocks: Iterator[list[Entry]], window_s: float, cap: int) -> Iterator[list[Entry]]:
    """Blocks sorted by (wall, ref), holding back `window_s` of wall time (at most `cap` records);
    OutOfOrder when a record falls behind what was already given."""
    held: list[Entry] = []
    given = float("-inf")
    for block in blocks:
        if not block:
            continue
        block.sort(key=_WALL)  # stable: ties keep line order
        if block[0][0] < given:
            behind = given - block[0][0]
            raise OutOfOrder(f"line {block[0][1] & LINE_MASK} is {behind:.3f} s behind a record read before it")
        if held and block[0][0] < held[-1][0]:
            held += block
            held.sort(key=_WALL)
        else:
            held += block
        cut = max(bisect.bisect_left(held, held[-1][0] - window_s, key=_WALL), len(held) - cap)
        if cut > 0:
            given = held[cut - 1][0]
            yield held[:cut]
            del held[:cut]
    if held:
        yield held


class FileSource:
    """History files read as one stream in `read_history`'s order, and read back line by line for evidence."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]], *, exact: bool = False) -> None:
        self.paths = list(paths)
        self.exact = exact

    def blocks(self, facts: Facts | None = None) -> Iterator[list[Entry]]:
        """The merged records, in blocks; counted into `facts` when given."""
        streams = [_sorted(p, i, self.exact) for i, p in enumerate(self.paths)]
        merged = streams[0] if len(streams) == 1 else _merged(streams)
        return merged if facts is None else _counted(merged, facts)

    def source_of(self, ref: int) -> str:
        return f"{self.paths[ref >> FILE_SHIFT]}:{ref & LINE_MASK}"

    def resolve(self, refs: Collection[int]) -> dict[int, Record]:
        """The lines named by `refs` as read_history reads them (one more pass over the files that hold them)."""
        found: dict[int, Record] = {}
        for ix in sorted({ref >> FILE_SHIFT for ref in refs}):
            wanted = sorted(ref & LINE_MASK for ref in refs if ref >> FILE_SHIFT == ix)
            found.update(_read_lines(self.paths[ix], ix << FILE_SHIFT, wanted))
        return found


def _sorted(path: str | os.PathLike[str], file: int, exact: bool) -> Iterator[list[Entry]]:
    blocks = _file_blocks(path, file << FILE_SHIFT)
    if exact:
        return _batched(iter(sorted((e for b in blocks for e in b), key=_WALL)))
    return _in_order(blocks, WINDOW_S, WINDOW_CAP)


def _merged(streams: list[Iterator[list[Entry]]]) -> Iterator[list[Entry]]:
    return _batched(heapq.merge(*(itertools.chain.from_iterable(s) for s in streams), key=_PLACE))


def _counted(blocks: Iterator[list[Entry]], facts: Facts) -> Iterator[list[Entry]]:
    for block in blocks:
        facts.tally(block)
        yield block


def _read_lines(path: str | os.PathLike[str], base: int, wanted: list[int]) -> Iterator[tuple[int, Record]]:
    at = 0
    with open_history(path) as stream:
        for number, lines, _ in numbered_blocks(stream):
            while at < len(wanted) and wanted[at] < number + len(lines):
                n = wanted[at]
                yield base | n, parse_record(lines[n - number], f"{path}:{n}")
                at += 1
            if at == len(wanted):
                return


def _batched(entries: Iterator[Entry]) -> Iterator[list[Entry]]:
    while block := list(itertools.islice(entries, BLOCK)):
        yield block


class MemorySource:
    """Records already in memory (merged, as read_history returns them): ref i is records[i]."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records

    def blocks(self, facts: Facts | None = None) -> Iterator[list[Entry]]:
        blocks = _batched((rec.wall, i, rec) for i, rec in enumerate(self.records))
        return blocks if facts is None else _counted(blocks, facts)

    def source_of(self, ref: int) -> str:
        return self.records[ref].source

    def resolve(self, refs: Collection[int]) -> dict[int, Record]:
        return {ref: self.records[ref] for ref in refs}
