"""Profiles: loading and validation (errors name the file, key, value and a way out), and the clients behaving
as a profile says (idempotency in a header, absent operations, direct downloads), against mock transports."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from harness.clients import ServiceClient
from harness.contract import V1, ContractProfile
from harness.contract.profiles import available_profiles, load_profile, parse_profile
from harness.core.errors import ConfigError

pytestmark = pytest.mark.unit
OTHER = Path(__file__).resolve().parents[1] / "other_impl" / "profile.toml"


def test_reference_is_the_default_and_names_what_v1_names() -> None:
    reference = load_profile()
    assert reference.name == "reference" and "reference" in available_profiles()
    for part in ("paths", "fields", "statuses", "events", "features", "checksum_prefix", "limits"):
        assert getattr(reference, part) == getattr(V1, part), part
    assert all(set(reference.codes[op]) <= set(V1.codes[op]) for op in V1.codes)


def test_a_users_file_and_the_module_attribute_form_load() -> None:
    other = load_profile(str(OTHER))
    assert (other.name, other.features.idempotency, other.statuses["processing"]) == ("other", "header", "running")
    assert other.codes["not_ready"] == (404,) and other.offers("cancel") and other.offers("resume")
    import harness.contract.profiles as profiles

    assert profiles.reference.name == "reference" and getattr(profiles, str(OTHER)).name == "other"


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("nmae = 'x'", ["nmae = 'x'", "did you mean 'name'"]),
        ("[paths]\nstatus = '/jobs'", ["[paths] status = '/jobs'", "has no {job_id}"]),
        ("[paths]\nstatus = 'jobs/{job_id}'", ["does not start with /"]),
        ("[paths]\nstatus = '/j/{id}'", ["placeholder other than {job_id}"]),
        ("[fields]\njobid = 'id'", ["[fields] jobid", "did you mean 'job_id'"]),
        ("[statuses]\nprocessing = 'working'", ["[statuses] processing = 'working'", "one of queued, running"]),
        ("[events]\ndone = 'finished'", ["[events] done = 'finished'", "snapshot, progress"]),
        ("[codes]\ninitiate = ['202']", ["[codes] initiate = ['202']", "e.g. [200, 202]"]),
        ("[codes]\nnot_ready = [99]", ["[codes] not_ready = [99]"]),
        ("[features]\nidempotency = 'headers'", ["[features] idempotency = 'headers'", "field, header, none"]),
        ("[features]\ncancel = 'no'", ["[features] cancel = 'no'", "true or false"]),
        ("[features]\nheartbeat_s = -1", ["[features] heartbeat_s = -1", "modelled seconds"]),
        ("[features]\nretries = true", ["[features] retries", "known keys:"]),
        ("[limits]\nstatus_p99_ms = 0", ["[limits] status_p99_ms = 0", "milliseconds"]),
        ("paths = 3", ["paths = 3", "[paths] table"]),
        ("[paths\n", ["not valid TOML", "line 1"]),
    ],
)
def test_a_bad_profile_is_refused_naming_file_key_value_and_hint(tmp_path: Path, toml: str, says: list[str]) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"profile {path}: ") and all(part in message for part in says), message


def test_unknown_names_and_missing_files_say_what_exists(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'nope' is not one shipped.*reference.*path to your own"):
        load_profile("nope")
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read it"):
        load_profile(tmp_path / "missing.toml")


def test_heartbeat_zero_means_none_promised() -> None:
    profile = parse_profile("[features]\nheartbeat_s = 0\nresume = false", "<string>")
    assert profile.features.heartbeat_s is None and not profile.offers("resume")


def _client(profile: ContractProfile, handler: httpx.MockTransport) -> ServiceClient:
    return ServiceClient("http://svc.test", profile=profile, transport=handler)


def test_the_idempotency_key_goes_where_the_profile_says() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "j1", "state": "pending"})

    other = load_profile(OTHER)
    reply = _client(other, httpx.MockTransport(handler)).initiate([1, 2], client_request_id="k-1")
    none = dataclasses.replace(other, features=dataclasses.replace(other.features, idempotency="none"))
    _client(none, httpx.MockTransport(handler)).initiate([3], client_request_id="k-2")
    assert reply.ok and reply.job is not None and (reply.job.job_id, reply.job.status) == ("j1", "queued")
    assert seen[0].url.path == "/api/jobs" and seen[0].headers["Request-Id"] == "k-1"
    assert json.loads(seen[0].content) == {"file_ids": [1, 2]}
    assert "Request-Id" not in seen[1].headers and json.loads(seen[1].content) == {"file_ids": [3]}


def test_absent_operations_are_answered_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, got {request.url}")

    other = load_profile(OTHER)
    no_cancel = dataclasses.replace(other, features=dataclasses.replace(other.features, cancel=False))
    client = _client(no_cancel, httpx.MockTransport(handler))
    for reply in (client.cancel("j1"), client.legacy_start([1])):
        assert reply.absent and reply.outcome == "fail" and reply.http_status is None


def test_a_direct_download_hashes_the_download_answer() -> None:
    data = b"artifact bytes" * 100

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/jobs/j1":
            return httpx.Response(200, json={"id": "j1", "state": "done", "sha256": hashlib.sha256(data).hexdigest()})
        assert request.url.path == "/api/jobs/j1/file"
        return httpx.Response(200, content=data)

    result = _client(load_profile(OTHER), httpx.MockTransport(handler)).download("j1")
    assert (result.outcome, result.checksum_ok, result.size) == ("ok", True, len(data))
