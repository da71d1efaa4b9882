"""The table of bad inputs, built from the profile's names: each must get a 4xx the profile expects, promptly;
never a 5xx, never a hang. With `problem_json`, each 4xx is application/problem+json naming the field."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

from harness.conformance.context import Run, short_text
from harness.conformance.results import Point, absent, failed, judged, passed

JSON = {"content-type": "application/json"}
MALFORMED_ID = "not-a-job-id%27%3B--"


@dataclass(frozen=True)
class BadInput:
    label: str
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    field: str | None = None  # the name a problem body must mention
    also: tuple[int, ...] = ()  # codes accepted besides the profile's bad_input ones


@dataclass(frozen=True)
class Answer:
    case: BadInput
    code: int | None
    ms: float
    content_type: str = ""
    text: str = ""
    error: str | None = None


def cases(run: Run) -> list[BadInput]:
    p, f = run.profile, run.profile.fields
    init, ids = p.path("initiate"), f["file_ids"]
    valid = run.short_files[0]  # an id the profile says is valid: each case is bad only in the way its label says
    j = tuple(JSON.items())

    def body(label: str, raw: bytes | object, field: str | None = None) -> BadInput:
        data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
        return BadInput(label, "POST", init, data, j, field)

    table = [
        body("empty body", b""),
        body("malformed JSON", b'{"' + ids.encode() + b'": ['),
        body("JSON array", [valid]),
        body("JSON null", None),
        body(f"no {ids}", {}, ids),
        body(f"{ids} not a list", {ids: "all"}, ids),
        body(f"{ids} empty", {ids: []}, ids),
        body("file id a string", {ids: [str(valid)]}, ids),
        body("file id negative", {ids: [-1]}, ids),
        body("file id fractional", {ids: [valid + 0.5]}, ids),
        body("file id a boolean", {ids: [True]}, ids),
    ]
    if p.features.idempotency == "field":
        table.append(body(f"{f['client_request_id']} a number", {ids: [valid], f["client_request_id"]: 5}))
    unknown = p.codes["unknown"]
    for op in ("status", "stream", "download", "cancel"):
        if p.offers(op):
            method = "POST" if op == "cancel" else "GET"
            table.append(BadInput(f"malformed id on {op}", method, p.path(op, MALFORMED_ID), also=unknown))
    table.append(BadInput("very long id", "GET", p.path("status", "x" * 4000), also=(*unknown, 414, 431)))
    if p.offers("resume") and "shape" in run.jobs:
        stream = p.path("stream", run.jobs["shape"])
        garbage = (("Last-Event-ID", "abc"),)  # refusing it or starting afresh (200) are both sound
        table.append(BadInput("Last-Event-ID not a number", "GET", stream, headers=garbage, also=(200,)))
    return table


def ask(run: Run, case: BadInput) -> Answer:
    """One bad request, read no further than its headers and a little body (a stream must not hold us)."""
    started = time.monotonic()
    try:
        with run.http.stream(case.method, case.path, content=case.body, headers=dict(case.headers)) as resp:
            text = next(resp.iter_text(), "") if resp.status_code >= 400 else ""
            ms = (time.monotonic() - started) * 1000
            return Answer(case, resp.status_code, ms, resp.headers.get("content-type", ""), text[:2000])
    except httpx.HTTPError as exc:
        return Answer(case, None, (time.monotonic() - started) * 1000, error=type(exc).__name__)


def bad_inputs(run: Run) -> list[Point]:
    answers = [ask(run, case) for case in cases(run) if run.remaining() > run.config.request_s]
    if not answers:
        return [failed("errors.bad_input", "the run's budget ran out before the bad inputs")]
    expected = run.profile.codes["bad_input"]
    wrong = [a for a in answers if a.code not in (*expected, *a.case.also)]
    rows = [{"case": a.case.label, "code": a.code, "ms": round(a.ms, 1), "error": a.error} for a in answers]
    if wrong:
        what = "; ".join(f"{a.case.label} -> {a.code or a.error}" for a in wrong)
        verdict = failed("errors.bad_input", f"{len(wrong)}/{len(answers)} refused wrongly: {what}", cases=rows)
    else:
        slowest = max(answers, key=lambda a: a.ms)
        evidence = f"{len(answers)} bad inputs, each a 4xx the profile expects (slowest {slowest.ms:.0f} ms)"
        verdict = passed("errors.bad_input", evidence, cases=rows)
    return [verdict, _problem_json(run, answers)]


def _problem_json(run: Run, answers: list[Answer]) -> Point:
    if not run.profile.features.problem_json:
        return absent("errors.problem_json", "problem+json error bodies")
    refused = [a for a in answers if a.code is not None and 400 <= a.code < 500]
    bad = []
    for a in refused:
        if not a.content_type.startswith("application/problem+json"):
            bad.append(f"{a.case.label}: content-type {a.content_type or '(none)'}")
        elif a.case.field and a.code not in run.profile.codes["unknown"] and a.case.field not in a.text:
            bad.append(f"{a.case.label}: the body does not name {a.case.field!r} ({short_text(a.text, 60)})")
    evidence = "; ".join(bad) if bad else f"{len(refused)} 4xx answers, each problem+json naming its field"
    return judged("errors.problem_json", not bad and bool(refused), evidence)
