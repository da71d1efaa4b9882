"""Bad input never yields a 5xx or a hang: a 4xx problem+json that names the field and the rule."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

pytestmark = pytest.mark.contract
J = {"content-type": "application/json"}
OK_ID = "01a212d3-e063-7c1d-a8ce-ca30db6cd4ed"

# (label, method, path, raw body, headers, expected status, the field the answer must name)
CASES = [
    ("empty body", "POST", "/v1/download/initiate", b"", J, 400, "(body)"),
    ("not json", "POST", "/v1/download/initiate", b"{fileIds:", J, 400, "(body)"),
    ("json array", "POST", "/v1/download/initiate", b"[1,2]", J, 400, "(body)"),
    ("json null", "POST", "/v1/download/initiate", b"null", J, 400, "(body)"),
    (
        "wrong content type",
        "POST",
        "/v1/download/initiate",
        b'{"fileIds":[10001]}',
        {"content-type": "text/plain"},
        415,
        "content-type",
    ),
    ("no content type", "POST", "/v1/download/initiate", b'{"fileIds":[10001]}', {}, 415, "content-type"),
    ("missing fileIds", "POST", "/v1/download/initiate", b"{}", J, 400, "fileIds"),
    ("fileIds not a list", "POST", "/v1/download/initiate", b'{"fileIds": 10001}', J, 400, "fileIds"),
    ("fileIds empty", "POST", "/v1/download/initiate", b'{"fileIds": []}', J, 400, "fileIds"),
    (
        "fileIds too many",
        "POST",
        "/v1/download/initiate",
        json.dumps({"fileIds": [10001] * 1001}).encode(),
        J,
        400,
        "fileIds",
    ),
    ("fileId too small", "POST", "/v1/download/initiate", b'{"fileIds": [9999]}', J, 400, "fileIds.0"),
    ("fileId too large", "POST", "/v1/download/initiate", b'{"fileIds": [100000001]}', J, 400, "fileIds.0"),
    ("fileId string", "POST", "/v1/download/initiate", b'{"fileIds": ["10001"]}', J, 400, "fileIds.0"),
    ("fileId float", "POST", "/v1/download/initiate", b'{"fileIds": [10001.5]}', J, 400, "fileIds.0"),
    ("fileId bool", "POST", "/v1/download/initiate", b'{"fileIds": [true]}', J, 400, "fileIds.0"),
    ("fileId null", "POST", "/v1/download/initiate", b'{"fileIds": [null]}', J, 400, "fileIds.0"),
    (
        "clientRequestId too long",
        "POST",
        "/v1/download/initiate",
        json.dumps({"fileIds": [10001], "clientRequestId": "x" * 129}).encode(),
        J,
        400,
        "clientRequestId",
    ),
    (
        "clientRequestId empty",
        "POST",
        "/v1/download/initiate",
        b'{"fileIds":[10001],"clientRequestId":""}',
        J,
        400,
        "clientRequestId",
    ),
    (
        "clientRequestId number",
        "POST",
        "/v1/download/initiate",
        b'{"fileIds":[10001],"clientRequestId":5}',
        J,
        400,
        "clientRequestId",
    ),
    ("bad priority", "POST", "/v1/download/initiate", b'{"fileIds":[10001],"priority":"urgent"}', J, 400, "priority"),
    ("unknown field", "POST", "/v1/download/initiate", b'{"fileIds":[10001],"fileID":[1]}', J, 400, "fileID"),
    (
        "simulate negative",
        "POST",
        "/v1/download/initiate",
        b'{"fileIds":[10001],"simulate":{"failAttempts":-1}}',
        J,
        400,
        "simulate.failAttempts",
    ),
    ("malformed job id", "GET", "/v1/download/status/not-a-uuid", b"", {}, 400, "jobId"),
    ("job id with junk", "GET", f"/v1/download/status/{OK_ID}x", b"", {}, 400, "jobId"),
    ("malformed id on download", "GET", "/v1/download/12345", b"", {}, 400, "jobId"),
    ("malformed id on stream", "GET", "/v1/download/stream/%27%3B--", b"", {}, 400, "jobId"),
    ("malformed id on cancel", "POST", "/v1/download/cancel/zzz", b"", {}, 400, "jobId"),
    ("legacy start bad body", "POST", "/v1/download/start", b'{"fileIds":"all"}', J, 400, "fileIds"),
]


@pytest.mark.parametrize(
    ("label", "method", "path", "body", "headers", "status", "field"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_named_4xx(service, label, method, path, body, headers, status, field):
    with service.client(timeout=5) as c:
        r = c.request(method, path, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status and problem["detail"]
    assert field in [e["field"] for e in problem.get("errors", [])] or field in problem["detail"], problem


def test_bad_last_event_id_is_400(service):
    with service.client(timeout=5) as c:
        job = c.post("/v1/download/initiate", json={"fileIds": [10001]}).json()
        r = c.get(job["streamUrl"], headers={"Last-Event-ID": "abc"})
        c.post(f"/v1/download/cancel/{job['jobId']}")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Last-Event-ID"


def test_redis_unreachable_is_503_with_retry_after_never_500(service):
    service.redis.signal(signal.SIGSTOP)
    try:
        with service.client(timeout=15) as c:
            health = c.get("/health")
            init = c.post("/v1/download/initiate", json={"fileIds": [10001]})
            status = c.get(f"/v1/download/status/{OK_ID}")
    finally:
        service.redis.signal(signal.SIGCONT)
    for r in (health, init, status):
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1
    assert init.headers["content-type"] == "application/problem+json"


def test_the_service_is_healthy_again_after_redis_returns(service):
    with httpx.Client(base_url=service.url, timeout=5) as c:
        assert c.get("/health").status_code == 200
