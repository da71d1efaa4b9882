"""The service keeps the promises of its own OpenAPI document: schemathesis, every phase it can run, bounded.

Schemathesis reads the live /openapi.json and runs its phases the way `st run` does (the engine behind the CLI):
probing, schema analysis, coverage (each constraint's edges and violations, every undeclared method), fuzzing
(random valid and invalid inputs) and stateful (jobs followed from initiate along the document's links); the
examples phase too, once the document carries examples. Every check is on. Any failed check, error or warning
about the document fails the test, with the request and the answer that broke it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.engine import Status, StopReason, events, from_schema

pytestmark = pytest.mark.contract

START = "POST /v1/download/start"
# A wall-clock ceiling, far above a run's usual 10-20 s: reaching it is itself a failure (something hangs).
BUDGET_S = 90.0
CONFIG: dict[str, Any] = {
    "seed": 20240601,  # the same cases every run, so a failure reproduces
    "cache": {"enabled": False},  # nothing written outside the test's temporary files
    "generation": {"max-examples": 20, "database": "none"},
    "checks": {"enabled": True},
    "request-timeout": 5,
    # An SSE stream does not end while its job is live: read its snapshot and one more event, then stop reading.
    "max-stream-events": 2,
    "phases": {
        "stateful": {
            "max-steps": 10,
            # Follow the document's links (initiate -> status, stream, download, cancel) and the Location header.
            # Schemathesis' dependency analysis reads `fileIds` as references to a resource nothing creates, and
            # would then start every scenario from a cancel of a random id instead of from initiate.
            "inference": {"algorithms": ["location-headers"]},
        }
    },
    "operations": [
        {
            # The legacy start holds its request until the job ends, by design, and a valid body may ask for a
            # simulated job of minutes. So it gets only the coverage phase's inputs that it must refuse at once
            # (every constraint broken, every undeclared method): fuzzing's negative mode still sends a valid body
            # when a mutation fails to break one. Its valid path is test_api.py's
            # test_legacy_start_holds_the_request_until_the_job_ends.
            "include-path": "/v1/download/start",
            "generation": {"mode": "negative"},
            "phases": {"fuzzing": {"enabled": False}, "stateful": {"enabled": False}},
            "request-timeout": 30,  # should a refusal ever turn out to be a valid body after all
        }
    ],
}


@dataclass
class Findings:
    """What a run found (failed checks, errors, warnings, as readable text) and what it sent where."""

    problems: list[str] = field(default_factory=list)
    cases: Counter[str] = field(default_factory=Counter)  # by phase
    tested: dict[str, set[str]] = field(default_factory=dict)  # phase -> operations that got cases
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status) -> answers
    job_ids: set[str] = field(default_factory=set)
    finished: events.EngineFinished | None = None

    def record(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished):
            self._scenario(event)
        elif isinstance(event, events.SchemaAnalysisWarnings):
            self.problems += [f"the document: {warning}" for warning in event.warnings]
        elif isinstance(event, events.NonFatalError):
            self.problems.append(f"error in {event.label} ({event.phase}): {event.info.title}: {event.info.message}")
        elif isinstance(event, (events.FatalError, events.Interrupted)):
            self.problems.append(f"the run broke off: {event!r}")
        elif isinstance(event, events.EngineFinished):
            self.finished = event

    def _scenario(self, event: events.ScenarioFinished) -> None:
        recorder = event.recorder
        self.cases[event.phase.value] += len(recorder.cases)
        for case_id, node in recorder.cases.items():
            operation = node.value.operation.label
            self.tested.setdefault(event.phase.value, set()).add(operation)
            interaction = recorder.interactions.get(case_id)
            if interaction is not None and interaction.response is not None:
                self.statuses[(operation, interaction.response.status_code)] += 1
                self._job_id(interaction.response.content)
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status is Status.FAILURE and check.failure_info is not None:
                    self.problems.append(self._failure(event, case_id, check))

    def _job_id(self, content: bytes | None) -> None:
        """Remember every job the run created, to cancel them after it."""
        try:
            body = json.loads(content or b"")
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("jobId"), str):
            self.job_ids.add(body["jobId"])

    @staticmethod
    def _failure(event: events.ScenarioFinished, case_id: str, check: Any) -> str:
        failure = check.failure_info.failure
        lines = [f"{event.phase.value} {event.recorder.label}: {check.name}: {failure.title}", f"  {failure.message}"]
        interaction = event.recorder.interactions.get(case_id)
        if interaction is not None:
            request = interaction.request
            lines.append(f"  request: {request.method} {request.uri} {(request.body or b'')[:500]!r}")
            if interaction.response is not None:
                lines.append(f"  answer: {interaction.response.status_code} {interaction.response.content[:500]!r}")
        return "\n".join(lines)


def _run(url: str) -> tuple[Findings, set[str]]:
    """One schemathesis run against `url`, stopped (and so failed) if it outlasts BUDGET_S; and every operation
    the document declares."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=schemathesis.Config.from_dict(CONFIG))
    operations = {result.ok().label for result in schema.get_all_operations()}
    stream = from_schema(schema).execute()
    watchdog = threading.Timer(BUDGET_S, stream.stop)
    watchdog.start()
    findings = Findings()
    try:
        for event in stream:
            findings.record(event)
    finally:
        watchdog.cancel()
    return findings, operations


def _cancel(url: str, job_ids: set[str]) -> None:
    """Cancel the jobs the run created (some simulate minutes-long or stalling work), so the workers the rest of
    the session shares are free again. A job that already ended answers 409, and that is fine too."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for job_id in job_ids:
            client.post(f"/v1/download/cancel/{job_id}")


def test_schemathesis_finds_no_failure_in_any_phase(service):
    started = time.monotonic()
    findings, operations = _run(service.url)
    try:
        elapsed = time.monotonic() - started
        finished = findings.finished
        assert finished is not None, "the run ended without its final event"
        assert finished.stop_reason is StopReason.COMPLETED, (
            f"the run stopped early ({finished.stop_reason.value}) after {elapsed:.1f} s; the budget is {BUDGET_S} s"
        )
        problems = "\n".join(findings.problems)
        assert not findings.problems, f"schemathesis found {len(findings.problems)} problem(s):\n{problems}"
        # Nothing went untested unnoticed (an operation whose schema cannot be generated from is skipped).
        assert findings.tested.get("coverage") == operations, findings.tested
        assert findings.tested.get("fuzzing") == operations - {START}, findings.tested
        assert len(operations) == 8 and findings.cases["stateful"] > 0, (operations, dict(findings.cases))
        # The stateful phase followed real jobs, not only ids nobody created.
        followed = {op for (op, status) in findings.statuses if "{job_id}" in op and status not in (400, 404, 405)}
        assert len(followed) == 4, f"links followed to: {sorted(followed)}"
        print(f"schemathesis: {dict(findings.cases)} cases in {elapsed:.1f} s, {len(findings.job_ids)} jobs")
    finally:
        _cancel(service.url, findings.job_ids)


# What schemathesis found wrong once (and an id with a trailing newline, which `re.match`'s `$` let through), pinned
# with a fixed input each, so they stay fixed whichever cases a run happens to draw.
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/download/status/0190B6E2-0000-7000-8000-00000000000A", None, 404),  # the pattern allows A-F
        ("GET", "/v1/download/status/0190b6e2-0000-7000-8000-00000000000a%0A", None, 400),
        ("GET", "/v1/download/initiate", None, 405),  # a path of its own, POST only; not a job named "initiate"
        ("OPTIONS", "/v1/download/start", None, 405),
        ("POST", "/v1/download/initiate", b'{"fileIds": [10001.0]}', 202),  # JSON Schema: 10001.0 is an integer
    ],
)
def test_what_schemathesis_found_stays_fixed(service, method, path, body, status):
    with service.client() as c:
        r = c.request(method, path, content=body, headers={"content-type": "application/json"} if body else {})
    assert r.status_code == status, r.text
    if status == 405:
        assert r.headers["allow"] == "POST"
    if status == 202:
        _cancel(service.url, {r.json()["jobId"]})
