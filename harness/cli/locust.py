"""`harness locust SCENARIO [-- LOCUST ARGS]`: run a shipped Locust scenario by name (or your own locustfile) from
any folder, with the harness's flags. `harness locust --help` lists those flags with their effective defaults.

    harness locust mixed -- --headless -u 20 -r 5 -t 60s --time-scale 0.05
    harness locust ./locustfile.py -- --host http://127.0.0.1:8000 --contract ./my-service.toml
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from harness.core.errors import ConfigError


def scenarios() -> dict[str, Path]:
    """The scenarios shipped with the harness, by name (mixed, polling, sse, legacy)."""
    folder = Path(str(resources.files("harness.locust").joinpath("scenarios")))
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}


def scenario_path(name_or_path: str) -> Path:
    """A shipped scenario's file, or the user's own locustfile; a clear error for anything else."""
    shipped = scenarios()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.suffix == ".py" and path.is_file():
        return path.resolve()
    raise ConfigError(
        f"scenario {name_or_path!r} is neither a shipped one ({', '.join(shipped)}) nor a locustfile (.py) here; "
        "give a name, or the path of your own locustfile"
    )


def harness_flags() -> str:
    """The harness's Locust flags, each with the default a run gets when it is not given."""
    from harness.locust import options, thresholds
    from harness.stack.config import StackConfig

    base = StackConfig.from_env()
    effective = {
        "proxy_config": base.proxy_config,
        "backend": base.backend,
        "time_scale": f"{base.time_scale:g} (HARNESS_TIME_SCALE)",
        "workers": base.workers,
        "aof": base.aof,
        "history": "reports/locust/<date-time>/history.jsonl",
        "threshold": ", ".join(thresholds.DEFAULT_THRESHOLDS),
        "no_default_thresholds": "off",
        "weights": "the scenario's own",
        "contract": "reference (the v1 contract)",
    }
    parser = argparse.ArgumentParser(add_help=False)
    options.add_arguments(parser)
    lines = ["harness flags (given after --, with Locust's own):"]
    for action in parser._actions:
        flag = ", ".join(action.option_strings)
        metavar = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
        lines.append(f"  {flag}{metavar}\n      {action.help} (default: {effective.get(action.dest, action.default)})")
    return "\n".join(lines)


class _FlagsHelp(argparse.Action):
    """--help: this command's usage, then every harness flag with its effective default."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show this help and the harness's Locust flags")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        parser.print_help()
        print(f"\nshipped scenarios: {', '.join(scenarios())}\n\n{harness_flags()}")
        parser.exit()


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "locust",
        help="run a shipped Locust scenario (mixed, polling, sse, legacy) or your locustfile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument("-h", "--help", action=_FlagsHelp)
    parser.add_argument("scenario", help="a shipped scenario's name, or the path of a locustfile")
    parser.add_argument("locust_args", nargs=argparse.REMAINDER, help="after --: Locust's and the harness's flags")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = scenario_path(args.scenario)
    rest = list(args.locust_args)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    argv = [sys.executable, "-m", "locust", "-f", str(path), *rest]
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # Locust's own process: its signals, exit code and output are the run's
    return 0  # pragma: no cover - execv does not return
