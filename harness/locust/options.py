"""The harness's Locust flags and the frozen settings one process builds from them.

Stack flags are those of `harness up` (one definition, `harness.stack.flags`). Workers receive the
master's values with each spawn message (Locust forwards custom arguments), so they need none of their own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from harness.contract import V1, ContractProfile, StreamOptions, Timeouts
from harness.contract.profiles import load_profile
from harness.core.errors import ConfigError
from harness.core.timescale import parse_time_scale, scaled, time_scale_from_env
from harness.judge import CheckParams
from harness.locust.thresholds import Threshold, parse_thresholds
from harness.stack.flags import add_stack_flags
from harness.stack.service import load_service

REQUEST_BUDGET_S = 5.0  # per-request timeout of the async flow's plain requests (initiate, status, cancel)


def add_arguments(parser: Any) -> None:
    """Register the flags on Locust's parser, in a group of their own (kept out of the web UI's form)."""
    group = parser.add_argument_group("async-download harness")
    add_stack_flags(cast(argparse.ArgumentParser, group))
    group.add_argument("--history", default=None, metavar="PATH", help="history JSONL (default reports/locust/…)")
    group.add_argument(
        "--threshold", action="append", default=None, metavar="EXPR", help="pass/fail rule, e.g. 'job_e2e:p99<130s'"
    )
    group.add_argument("--no-default-thresholds", action="store_true", help="judge only the given --threshold")
    group.add_argument("--weights", default=None, metavar="CLASS=N,…", help="user class weights, e.g. LegacySync=1")
    group.add_argument(
        "--contract", default=None, metavar="PROFILE", help="contract profile: a name, a .toml file or module:NAME"
    )


@dataclass(frozen=True)
class RunSettings:
    """What every process of a run needs to know, read once from the parsed options."""

    time_scale: float
    thresholds: tuple[Threshold, ...]
    weights: dict[str, int]
    contract: ContractProfile
    history: str | None

    @classmethod
    def from_options(cls, opts: Any) -> RunSettings:
        raw_scale = getattr(opts, "time_scale", None)
        scale = time_scale_from_env() if raw_scale in (None, "") else parse_time_scale(raw_scale)
        defaults = not getattr(opts, "no_default_thresholds", False)
        thresholds = tuple(parse_thresholds(getattr(opts, "threshold", None) or (), defaults))
        return cls(
            scale,
            thresholds,
            parse_weights(getattr(opts, "weights", None)),
            load_contract(getattr(opts, "contract", None), getattr(opts, "service", None)),
            getattr(opts, "history", None),
        )

    def timeouts(self) -> Timeouts:
        """Client bounds on this machine's clock: the request budget never exceeds the smallest idle timer."""
        stream = StreamOptions.outlasting(
            self.check_params().idle_timer_s or scaled(60, self.time_scale), self.time_scale
        )
        return Timeouts(
            request_s=self.check_params().budget_s or REQUEST_BUDGET_S,
            legacy_s=scaled(600, self.time_scale) + 10,
            stream=stream,
            default_poll_s=scaled(6, self.time_scale),
        )

    def check_params(self) -> CheckParams:
        return CheckParams.for_scale(self.time_scale, stall_s=self.contract.stall_recovery_on_clock(self.time_scale))


def parse_weights(raw: str | None) -> dict[str, int]:
    """'Poller=3,LegacySync=1' -> {'Poller': 3, 'LegacySync': 1}."""
    weights: dict[str, int] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise ConfigError(f"--weights part {part!r} is not CLASS=N (N a whole number), e.g. 'LegacySync=1'")
        weights[name.strip()] = int(value)
    return weights


def load_contract(spec: str | None, service: str | None = None) -> ContractProfile:
    """A shipped profile name or a profile file (see `harness.contract.profiles`), or `package.module:NAME`;
    None -> the profile of the service spec (--service, else HARNESS_SERVICE), else v1."""
    service = service or os.environ.get("HARNESS_SERVICE")
    if not spec and service:
        return load_service(service).contract()
    if not spec:
        return V1
    module_name, colon, attr = spec.partition(":")
    if not colon or "/" in module_name or module_name.endswith(".toml"):
        return load_profile(spec)
    try:
        profile = getattr(importlib.import_module(module_name), attr or "PROFILE")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--contract {spec!r} does not name a ContractProfile ({exc}); use 'module:NAME'") from None
    if not isinstance(profile, ContractProfile):
        raise ConfigError(f"--contract {spec!r} is a {type(profile).__name__}, not a ContractProfile")
    return profile


def default_history_path(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return str(Path("reports") / "locust" / stamp / "history.jsonl")


def process_history_path(base: str, worker: bool) -> Path:
    """A local runner writes `base`; each worker writes its own file beside it (host and pid in the name)."""
    path = Path(base)
    if not worker:
        return path
    return path.with_name(f"{path.stem}-{socket.gethostname()}-{os.getpid()}{path.suffix or '.jsonl'}")
