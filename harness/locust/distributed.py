"""Collecting each worker's verdict on the master, over Locust's own master/worker messages.

When a test stops, every worker judges its own history and sends the summary, after a final stats report so
the master's aggregate is complete before thresholds are judged. A headless master stops before telling its
workers (Locust's `quit` fires the master's test_stop first), so the master asks the workers that have not
answered ("harness_finish": stop users gracefully, then answer) and waits, bounded by the stop timeout.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import gevent.event
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from harness.judge import CheckParams
from harness.locust.verdict import summarise

FINISH, VERDICT = "harness_finish", "harness_verdict"
ANSWER_MARGIN_S = 60.0  # on top of --stop-timeout: time for workers to judge their histories and answer
log = logging.getLogger("harness.locust")


class VerdictCollector:
    """On the master: the summaries received in this test, by worker id."""

    def __init__(self, runner: MasterRunner) -> None:
        self.runner = runner
        self.parts: dict[str, dict[str, Any]] = {}
        self._arrived = gevent.event.Event()
        runner.register_message(VERDICT, self._on_verdict)

    def reset(self) -> None:
        self.parts.clear()
        self._arrived.clear()

    def _workers(self) -> list[str]:
        return [c.id for c in self.runner.clients.all if c.state != STATE_MISSING]

    def _on_verdict(self, environment: Environment, msg: Message, **_: Any) -> None:
        self.parts[msg.node_id] = msg.data
        self._arrived.set()

    def collect(self, stop_timeout: float) -> tuple[list[dict[str, Any]], int]:
        """Ask the silent workers to finish, wait for every answer (bounded); (summaries, workers expected)."""
        workers = self._workers()
        for worker in workers:
            if worker not in self.parts:
                self.runner.send_message(FINISH, None, client_id=worker)
        deadline = time.monotonic() + stop_timeout + ANSWER_MARGIN_S
        while not set(self._workers()) <= set(self.parts) and time.monotonic() < deadline:
            self._arrived.wait(timeout=0.5)  # woken by each verdict; a worker that quits silently drops out
            self._arrived.clear()
        missing = [w for w in workers if w not in self.parts]
        if missing:
            log.warning("harness: no verdict from worker(s) %s; their histories are not judged here", missing)
        return list(self.parts.values()), len(workers)


class WorkerReporter:
    """On a worker: judge this process's history when a test stops and send the summary to the master."""

    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner
        self.sent: dict[str, Any] | None = None
        runner.register_message(FINISH, self._on_finish, concurrent=True)
        # Quitting listeners run newest first: this one (added after the runner's own) stops the users and
        # reports before the runner tells the master it quits (Ctrl-C on a worker).
        hooks: Any = runner.environment.events
        hooks.quitting.add_listener(self._on_quitting)

    def _on_quitting(self, **_: Any) -> None:
        self.runner.stop()

    def reset(self) -> None:
        self.sent = None

    def report(self, history: Path | None, params: CheckParams) -> None:
        """Flush the last stats first: the master judges thresholds on its aggregate once all verdicts are in."""
        self.runner._send_stats()  # Locust's own final report, sent early so it precedes the verdict
        self.sent = summarise(history, params) if history is not None else {"files": []}
        self.runner.send_message(VERDICT, self.sent)

    def _on_finish(self, environment: Environment, msg: Message, **_: Any) -> None:
        if self.sent is not None:
            self.runner.send_message(VERDICT, self.sent)
            return
        self.runner.stop()  # users finish their task within --stop-timeout; test_stop then reports
