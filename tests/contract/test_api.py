"""The contract of the reference service, endpoint by endpoint, against real Redis + API + workers."""

from __future__ import annotations

import concurrent.futures
import hashlib
import signal
import uuid
from typing import Any

import httpx
import pytest

from reference_service import storage

pytestmark = pytest.mark.contract
INITIATE = "/v1/download/initiate"


def initiate(c: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("fileIds", [10001, 10002, 10003])
    r = c.post(INITIATE, json=body)
    assert r.status_code == 202, r.text
    out: dict[str, Any] = r.json()
    return out


def test_initiate_answers_202_with_location_and_links(service):
    with service.client() as c:
        r = c.post(INITIATE, json={"fileIds": [10001, 99999999], "priority": "low"})
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"jobId", "status", "totalFiles", "nextPollInMs", "expiresAt", "statusUrl", "streamUrl"}
    assert uuid.UUID(body["jobId"]).version == 7
    assert body["status"] == "queued" and body["totalFiles"] == 2 and body["nextPollInMs"] > 0
    assert r.headers["location"] == body["statusUrl"] == f"/v1/download/status/{body['jobId']}"
    assert body["streamUrl"] == f"/v1/download/stream/{body['jobId']}"


def test_seed_alias_file_ids_is_accepted(service):
    with service.client() as c:
        r = c.post(INITIATE, json={"file_ids": [12345]})
    assert r.status_code == 202 and r.json()["totalFiles"] == 1


def test_status_body_has_every_field_and_no_store(service):
    with service.client() as c:
        job = initiate(c, simulate={"durationMs": 1000})
        done = service.wait_status(job["jobId"], {"completed"}, 15)
        r = c.get(job["statusUrl"])
    assert r.headers["cache-control"] == "no-store"
    assert set(r.json()) == {
        "jobId",
        "status",
        "progress",
        "completedFiles",
        "totalFiles",
        "attempts",
        "downloadUrl",
        "size",
        "checksum",
        "error",
        "createdAt",
        "startedAt",
        "updatedAt",
        "completedAt",
        "expiresAt",
        "nextPollInMs",
    }
    assert done["progress"] == 100 and done["completedFiles"] == 3 and done["attempts"] == 1
    assert done["checksum"].startswith("sha256:") and done["size"] == 3 * storage.BLOCK_BYTES
    assert done["downloadUrl"] == f"/v1/download/{job['jobId']}" and done["nextPollInMs"] is None


def test_same_client_request_id_under_50_concurrent_initiates_gives_one_job(service):
    crid = f"crid-{uuid.uuid4()}"

    def call(_: int) -> str:
        with service.client() as c:
            return str(initiate(c, clientRequestId=crid, simulate={"durationMs": 2000})["jobId"])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ids = set(pool.map(call, range(50)))
    assert len(ids) == 1
    service.wait_status(ids.pop(), {"completed"}, 15)


def test_download_redirects_to_a_signed_url_whose_bytes_match_the_checksum(service):
    with service.client() as c:
        job = initiate(c, simulate={"durationMs": 1000})
        done = service.wait_status(job["jobId"], {"completed"}, 15)
        r = c.get(f"/v1/download/{job['jobId']}")
        assert r.status_code == 302 and r.headers["location"].startswith("/artifacts/")
        art = c.get(r.headers["location"])
    assert art.status_code == 200
    assert "sha256:" + hashlib.sha256(art.content).hexdigest() == done["checksum"]
    expected = b"".join(storage.artifact_chunks([10001, 10002, 10003]))
    assert art.content == expected  # a pure function of the fileIds


def test_download_of_unfinished_job_is_409_with_status(service):
    with service.client() as c:
        job = initiate(c, simulate={"durationMs": 60000})
        r = c.get(f"/v1/download/{job['jobId']}")
        c.post(f"/v1/download/cancel/{job['jobId']}")
    assert r.status_code == 409 and r.json()["status"] in {"queued", "running"}


def test_tampered_and_expired_artifact_links(service):
    with service.client() as c:
        job = initiate(c, simulate={"durationMs": 500})
        service.wait_status(job["jobId"], {"completed"}, 15)
        good = c.get(f"/v1/download/{job['jobId']}").headers["location"]
        tampered = good.replace("md5=", "md5=A")
        expired = storage.signed_url(job["jobId"], service.secret, 1, now=0)
        assert c.get(tampered).status_code == 403
        r = c.get(expired)
    assert r.status_code == 410 and r.headers["content-type"] == "application/problem+json"


def test_expired_job_reads_expired_and_its_download_is_410(service):
    url = service.extra_api(REFERENCE_JOB_TTL_S="1")
    with httpx.Client(base_url=url) as c:
        job = initiate(c, simulate={"durationMs": 100})
        body = service.wait_status(job["jobId"], {"expired"}, 10)
        r = c.get(f"/v1/download/{job['jobId']}")
    assert body["status"] == "expired" and r.status_code == 410


def test_unknown_job_is_404_everywhere(service):
    missing = str(uuid.uuid4())
    with service.client() as c:
        for method, path in [
            ("GET", "/v1/download/status/"),
            ("GET", "/v1/download/"),
            ("GET", "/v1/download/stream/"),
            ("POST", "/v1/download/cancel/"),
        ]:
            r = c.request(method, path + missing)
            assert r.status_code == 404, (method, path, r.text)
            assert r.headers["content-type"] == "application/problem+json" and missing in r.json()["detail"]


def test_cancel_while_queued_and_while_running(service):
    with service.client() as c:
        for w in service.workers:
            w.signal(signal.SIGSTOP)
        try:
            queued = initiate(c, simulate={"durationMs": 1000})
            r = c.post(f"/v1/download/cancel/{queued['jobId']}")
        finally:
            for w in service.workers:
                w.signal(signal.SIGCONT)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        running = initiate(c, simulate={"durationMs": 60000})
        service.wait_status(running["jobId"], {"running"}, 15)
        r = c.post(f"/v1/download/cancel/{running['jobId']}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        again = c.post(f"/v1/download/cancel/{running['jobId']}")
        assert again.status_code == 200 and again.json()["status"] == "cancelled"  # idempotent
        assert c.get(queued["statusUrl"]).json()["status"] == "cancelled"
        finished = initiate(c, simulate={"durationMs": 100})
        service.wait_status(finished["jobId"], {"completed"}, 15)
        late = c.post(f"/v1/download/cancel/{finished['jobId']}")
        assert late.status_code == 409 and late.json()["status"] == "completed"
        # the cancelled job's worker stops at its next tick and never overwrites the cancellation
        service.wait_status(finished["jobId"], {"completed"}, 1)
        assert c.get(running["statusUrl"]).json()["status"] == "cancelled"


def test_legacy_start_holds_the_request_until_the_job_ends(service):
    with service.client(timeout=30) as c:
        r = c.post("/v1/download/start", json={"fileIds": [10001], "simulate": {"durationMs": 2000}})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "completed" and body["progress"] == 100 and body["checksum"]


def test_health_and_openapi(service):
    with service.client() as c:
        assert c.get("/health").json() == {"status": "ok", "redis": "ok"}
        spec = c.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/v1/download/initiate",
        "/v1/download/status/{job_id}",
        "/v1/download/stream/{job_id}",
        "/v1/download/{job_id}",
        "/v1/download/cancel/{job_id}",
        "/v1/download/start",
        "/health",
    } <= set(paths)
    assert {"202", "400", "415", "503"} <= set(paths["/v1/download/initiate"]["post"]["responses"])
    assert {"302", "409", "404", "410"} <= set(paths["/v1/download/{job_id}"]["get"]["responses"])
    assert "Problem" in spec["components"]["schemas"]


def test_simulate_is_refused_without_test_controls(service):
    url = service.extra_api(REFERENCE_TEST_CONTROLS="0")
    with httpx.Client(base_url=url) as c:
        r = c.post(INITIATE, json={"fileIds": [10001], "simulate": {"durationMs": 1}})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "simulate"
