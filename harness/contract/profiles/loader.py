"""Read a contract profile from TOML and validate every key and value before anything uses it.

Errors name the file, the table and key, the value, and a way out; an unknown key gets the closest known one.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

from harness.contract.profile import (
    DEFAULT_FILE_IDS,
    EVENTS,
    LIMITS,
    STATES,
    UUID_PATTERN,
    V1_CODES,
    V1_FIELDS,
    V1_PATHS,
    ContractProfile,
    DownloadMode,
    Features,
    FileIds,
    Idempotency,
    is_positive_int,
)
from harness.core.errors import ConfigError

TABLES = ("paths", "fields", "statuses", "events", "codes", "features", "limits")
SCALARS = ("name", "description", "checksum_prefix", "job_id_pattern")
FILE_IDS = "file_ids"  # a list of ids, or a { from, to, step } range: neither a table nor a string
RANGE_KEYS = ("from", "to", "step")
FILE_IDS_HINT = "give a list of distinct positive integers, e.g. [3, 5, 8], or a range, e.g. { from = 1, to = 50 }"
NEEDS_JOB_ID = frozenset({"status", "stream", "download", "cancel"})
UUID_HINT = 'give a regex of one id with no spaces or quotes, e.g. "[0-9a-f]{32}" or "[^/]+"'
CHOICES: Mapping[str, tuple[str, ...]] = {"idempotency": get_args(Idempotency), "download": get_args(DownloadMode)}


class _Where:
    """Builds the errors of one file: `where.error("features", "idempotency", value, "hint")`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, table: str | None, key: str, value: object, problem: str, hint: str) -> ConfigError:
        at = f"[{table}] {key}" if table else key
        return ConfigError(f"profile {self.source}: {at} = {value!r} {problem}; {hint}")

    def unknown(self, table: str | None, key: str, value: object, known: Iterable[str]) -> ConfigError:
        names = sorted(known)
        close = difflib.get_close_matches(key, names, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"known keys: {', '.join(names)}"
        return self.error(table, key, value, "is not a key the harness knows", hint)


def parse_profile(text: str, source: str, default_name: str = "profile") -> ContractProfile:
    """A profile from TOML text; `source` names it in errors (a path, or "<string>")."""
    where = _Where(source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {source}: not valid TOML ({exc}); check quoting and [table] headers") from None
    for key, value in raw.items():
        if key not in TABLES and key not in SCALARS and key != FILE_IDS:
            raise where.unknown(None, key, value, (*TABLES, *SCALARS, FILE_IDS))
        if key in TABLES and not isinstance(value, dict):
            raise where.error(None, key, value, "is not a table", f"write it as a [{key}] table")
        if key in SCALARS and not isinstance(value, str):
            raise where.error(None, key, value, "is not a string", 'quote it, e.g. name = "my-service"')
    tables = {name: raw.get(name, {}) for name in TABLES}
    return ContractProfile(
        name=raw.get("name", default_name),
        paths=_paths(where, tables["paths"]),
        fields=_names(where, "fields", tables["fields"], V1_FIELDS),
        codes=_codes(where, tables["codes"]),
        statuses=_renames(where, "statuses", tables["statuses"], STATES),
        events=_renames(where, "events", tables["events"], EVENTS),
        checksum_prefix=raw.get("checksum_prefix", "sha256:"),
        job_id_pattern=_pattern(where, raw.get("job_id_pattern", UUID_PATTERN)),
        features=_features(where, tables["features"]),
        file_ids=_file_ids(where, raw[FILE_IDS]) if FILE_IDS in raw else DEFAULT_FILE_IDS,
        limits=_limits(where, tables["limits"]),
        description=raw.get("description", ""),
        source=source,
    )


def _pattern(where: _Where, value: str) -> str:
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise where.error(None, "job_id_pattern", value, f"is not a regular expression ({exc})", UUID_HINT) from None
    if not value or re.search(r'[\s"]', value) or compiled.fullmatch("a/b"):
        raise where.error(None, "job_id_pattern", value, "must match one path segment", UUID_HINT)
    return value


def _file_ids(where: _Where, value: object) -> FileIds:
    """`file_ids = [3, 5, 8]` or `file_ids = { from = 1, to = 50, step = 1 }` (step optional)."""
    if isinstance(value, list):
        bad = next((v for v in value if not is_positive_int(v)), None)
        if bad is not None:
            raise where.error(None, FILE_IDS, value, f"has {bad!r}, not a positive integer", FILE_IDS_HINT)
        if not value:
            raise where.error(None, FILE_IDS, value, "is empty: no job would be valid", FILE_IDS_HINT)
        twice = sorted({v for v in value if value.count(v) > 1})
        if twice:
            named = ", ".join(map(str, twice))
            raise where.error(None, FILE_IDS, value, f"names {named} more than once", "list each id once")
        return FileIds(values=tuple(value))
    if not isinstance(value, dict):
        raise where.error(None, FILE_IDS, value, "is not a list or a range", FILE_IDS_HINT)
    for key, item in value.items():
        if key not in RANGE_KEYS:
            raise where.unknown(FILE_IDS, key, item, RANGE_KEYS)
        if not is_positive_int(item):
            raise where.error(FILE_IDS, key, item, "is not a positive integer", "e.g. { from = 1, to = 50, step = 1 }")
    missing = [key for key in ("from", "to") if key not in value]
    if missing:
        hint = "give both ends, inclusive: e.g. { from = 1, to = 50 }"
        raise where.error(None, FILE_IDS, value, f"has no {' or '.join(missing)}", hint)
    start, stop, step = value["from"], value["to"], value.get("step", 1)
    if stop < start:
        raise where.error(None, FILE_IDS, value, f"runs backwards (to {stop} < from {start})", "swap from and to")
    return FileIds(start=start, stop=stop, step=step)


def _names(where: _Where, table: str, values: Mapping[str, Any], known: Mapping[str, str]) -> dict[str, str]:
    for key, value in values.items():
        if key not in known:
            raise where.unknown(table, key, value, known)
        if not isinstance(value, str) or not value.strip():
            raise where.error(table, key, value, "is not a name", f'give the implementation\'s name, e.g. "{key}"')
    return dict(values)


def _paths(where: _Where, values: Mapping[str, Any]) -> dict[str, str]:
    paths = _names(where, "paths", values, V1_PATHS)
    for op, path in paths.items():
        example = f'e.g. "{V1_PATHS[op]}"'
        if not path.startswith("/"):
            raise where.error("paths", op, path, "does not start with /", f"give the path from the root, {example}")
        try:
            path.format(job_id="x")
        except (KeyError, IndexError, ValueError):
            raise where.error("paths", op, path, "has a placeholder other than {job_id}", example) from None
        if op in NEEDS_JOB_ID and "{job_id}" not in path:
            raise where.error("paths", op, path, "has no {job_id}", f"mark where the job id goes, {example}")
    return paths


def _renames(where: _Where, table: str, values: Mapping[str, Any], canonical: tuple[str, ...]) -> dict[str, str]:
    for key, value in values.items():
        if value not in canonical:
            hint = f"map {key!r} to one of {', '.join(canonical)}"
            raise where.error(table, key, value, "is not a canonical name", hint)
    return dict(values)


def _codes(where: _Where, values: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    codes: dict[str, tuple[int, ...]] = {}
    for key, value in values.items():
        if key not in V1_CODES:
            raise where.unknown("codes", key, value, V1_CODES)
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in items):
            raise where.error("codes", key, value, "is not a list of HTTP codes", "e.g. [200, 202]")
        codes[key] = tuple(items)
    return codes


def _features(where: _Where, values: Mapping[str, Any]) -> Features:
    defaults = Features()
    known = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(Features)}
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise where.unknown("features", key, value, known)
        checked[key] = _feature(where, key, value, known[key])
    return dataclasses.replace(defaults, **checked)


def _feature(where: _Where, key: str, value: object, default: object) -> object:
    if key in ("heartbeat_s", "job_s_per_file", "stall_recovery_s", "stall_recovery_floor_s"):
        unit = "real seconds" if key == "stall_recovery_floor_s" else "modelled seconds"
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise where.error("features", key, value, "is not a duration", f"give {unit}, 0 for none")
        if key.startswith("stall_recovery"):
            return float(value)
        return float(value) or None
    if key in CHOICES and value not in CHOICES[key]:
        raise where.error("features", key, value, "is not a choice", f"use one of {', '.join(CHOICES[key])}")
    checks: dict[type, tuple[Callable[[object], bool], str]] = {
        bool: (lambda v: isinstance(v, bool), "use true or false"),
        str: (lambda v: isinstance(v, str) and bool(v.strip()), "give a non-empty string"),
    }
    valid, hint = checks[type(default)]
    if not valid(value):
        raise where.error("features", key, value, f"is not a {type(default).__name__}", hint)
    return value


def _limits(where: _Where, values: Mapping[str, Any]) -> dict[str, float]:
    for key, value in values.items():
        if key not in LIMITS:
            raise where.unknown("limits", key, value, LIMITS)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise where.error("limits", key, value, "is not a positive number", "give milliseconds, e.g. 500")
    return {k: float(v) for k, v in values.items()}


def read_profile(path: Path) -> ContractProfile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"profile {path}: cannot read it ({exc.strerror}); give an existing .toml file") from None
    return parse_profile(text, str(path), default_name=path.stem)
