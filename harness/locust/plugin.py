"""The Locust plugin: importing this module (every scenario does) registers the harness's flags and listeners.

- init: without `--host`, the master (or the local runner) boots a `Stack` and sets the host, which Locust
  hands to its workers with each spawn message; `--weights` are applied; the run's history path is fixed.
- test_start: each process that runs users opens its history (one file per process).
- test_stop: each such process judges its history; the master collects the verdicts from its workers, then
  judges the thresholds on the aggregated stats and sets the exit code (3 when a threshold failed).
- quit (and atexit, for any other way out): the stack is torn down; the report is printed last.
"""

from __future__ import annotations

import atexit
import logging
import sys
from typing import Any, Protocol, cast

from locust import User, events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, Runner, WorkerRunner

from harness.core.errors import HarnessError
from harness.locust import options, runtime, thresholds, verdict
from harness.locust.distributed import VerdictCollector, WorkerReporter
from harness.locust.metrics import StatsSource
from harness.locust.options import RunSettings
from harness.stack import Stack
from harness.stack.config import Endpoints
from harness.stack.flags import stack_config

THRESHOLD_EXIT_CODE = 3
STACK_FLAGS = ("proxy_config", "backend", "workers", "aof", "service")  # --time-scale still describes the target
log = logging.getLogger("harness.locust")
_events: Any = events  # Locust's event hooks are untyped


class RunningStack(Protocol):
    @property
    def endpoints(self) -> Endpoints: ...

    def close(self) -> None: ...


class Plugin:
    """This process's part of the run: its role, the stack it booted (if any), the report it will print."""

    def __init__(self) -> None:
        self.stack: RunningStack | None = None
        self.collector: VerdictCollector | None = None
        self.reporter: WorkerReporter | None = None
        self.report = ""

    def init(self, environment: Environment, runner: Runner) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per stream would drown Locust's output
        opts = environment.parsed_options
        settings = RunSettings.from_options(opts)  # fail fast on a bad threshold, weight or contract
        if isinstance(runner, WorkerRunner):
            environment.user_classes[:] = list(_classes(environment).values())
            self.reporter = WorkerReporter(runner)
            return
        apply_weights(environment, settings.weights)
        if isinstance(runner, MasterRunner):
            self.collector = VerdictCollector(runner)
        if opts is not None and not opts.history:
            opts.history = options.default_history_path()
        if not environment.host:
            self.boot(environment, opts)
        elif given := [f for f in STACK_FLAGS if getattr(opts, f, None) is not None]:
            log.warning("harness: --host given, so no stack is booted; ignoring %s", ", ".join(given))

    def boot(self, environment: Environment, opts: Any) -> None:
        config = stack_config(opts)
        stack = Stack(config)
        atexit.register(stack.close)
        self.stack = stack.__enter__()
        environment.host = stack.endpoints.edge_url
        log.info(
            "harness: stack up in %.1f s (front %s, time scale %g, %d workers): %s; logs in %s",
            getattr(stack, "boot_seconds", 0.0),
            config.proxy_config,
            config.time_scale,
            config.workers,
            environment.host,
            stack.endpoints.log_dir,
        )

    def test_start(self, environment: Environment) -> None:
        if self.collector is not None:
            self.collector.reset()
            return
        if self.reporter is not None:
            self.reporter.reset()
        opts = environment.parsed_options
        settings = RunSettings.from_options(opts)
        base = settings.history or options.default_history_path()
        path = options.process_history_path(base, worker=self.reporter is not None)
        runtime.open_runtime(environment, settings, path)

    def test_stop(self, environment: Environment) -> None:
        settings = RunSettings.from_options(environment.parsed_options)
        opened = runtime.current_path()
        if self.reporter is not None:
            self.reporter.report(opened, settings.check_params())
            return
        if self.collector is not None:
            parts, expected = self.collector.collect(environment.stop_timeout)
        else:
            parts = [verdict.summarise(opened, settings.check_params())] if opened else []
            expected = 1
        self.finish(environment, settings, verdict.merge(parts), expected)

    def finish(self, environment: Environment, settings: RunSettings, merged: dict[str, Any], expected: int) -> None:
        """Judge the thresholds over the aggregated stats and the merged verdict; keep the report for the end."""
        source = StatsSource(environment.stats, verdict.counts(merged))
        judged = thresholds.evaluate(settings.thresholds, source)
        failed = [v for v in judged if not v.passed]
        if failed:
            environment.process_exit_code = THRESHOLD_EXIT_CODE
        tail = f"exit code {THRESHOLD_EXIT_CODE}: {len(failed)} threshold(s) failed" if failed else "thresholds passed"
        banner = "=" * 24 + " async-download harness " + "=" * 24
        self.report = "\n".join(["", banner, verdict.render(merged, expected), thresholds.render(judged), tail])
        if not getattr(environment.parsed_options, "headless", False):
            log.info("%s", self.report)

    def quit(self) -> None:
        runtime.close_runtime()
        if self.stack is not None:
            self.stack.close()
            self.stack = None
            log.info("harness: stack stopped")
        if self.report:
            print(self.report, flush=True)


def apply_weights(environment: Environment, weights: dict[str, int]) -> None:
    """Set class weights (a weight-0 class named here comes back into the run)."""
    available = _classes(environment)
    unknown = sorted(set(weights) - set(available))
    if unknown:
        raise HarnessError(f"--weights names {', '.join(unknown)}; this locustfile has {', '.join(available)}")
    for name, weight in weights.items():
        available[name].weight = weight
    chosen = {c.__name__: c for c in environment.user_classes} | {n: available[n] for n in weights}
    environment.user_classes[:] = [c for c in chosen.values() if c.weight > 0 or c.fixed_count > 0]
    if not environment.user_classes:
        raise HarnessError("every user class has weight 0; give one a weight, e.g. --weights Poller=1")


def _classes(environment: Environment) -> dict[str, type[User]]:
    """Every user class of the locustfile(s), whatever this run selected."""
    given = cast(dict[str, type[User]] | None, environment.available_user_classes)
    return given or {c.__name__: c for c in environment.user_classes}


PLUGIN = Plugin()


def _on_parser(parser: Any, **_: Any) -> None:
    options.add_arguments(parser)


def _on_init(environment: Environment, runner: Runner | None = None, **_: Any) -> None:
    if runner is None or not isinstance(runner, LocalRunner | MasterRunner | WorkerRunner):
        return
    try:
        PLUGIN.init(environment, runner)
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(note, file=sys.stderr)
        PLUGIN.quit()
        raise SystemExit(2) from None


def _on_test_start(environment: Environment, **_: Any) -> None:
    PLUGIN.test_start(environment)


def _on_test_stop(environment: Environment, **_: Any) -> None:
    PLUGIN.test_stop(environment)


def _on_quit(**_: Any) -> None:
    PLUGIN.quit()


_events.init_command_line_parser.add_listener(_on_parser)
_events.init.add_listener(_on_init)
_events.test_start.add_listener(_on_test_start)
_events.test_stop.add_listener(_on_test_stop)
_events.quit.add_listener(_on_quit)
