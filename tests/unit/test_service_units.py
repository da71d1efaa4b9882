"""Pure pieces of the reference service: settings, ids, the transition table, artifacts and signatures."""

from __future__ import annotations

import uuid

import pytest

from reference_service import storage
from reference_service.jobs import TERMINAL, TRANSITIONS, JobStatus, allowed_sources, uuid7
from reference_service.settings import Settings, SettingsError
from reference_service.views import effective_status

pytestmark = pytest.mark.unit


def test_settings_from_env_scales_and_validates():
    s = Settings.from_env({"HARNESS_TIME_SCALE": "0.05", "REFERENCE_HEARTBEAT_S": "10"})
    assert s.scaled(s.heartbeat_s) == pytest.approx(0.5) and s.scaled_ms(120) == 6000
    with pytest.raises(SettingsError, match=r"HARNESS_TIME_SCALE='fast' is not a number"):
        Settings.from_env({"HARNESS_TIME_SCALE": "fast"})
    with pytest.raises(SettingsError, match=r"REFERENCE_MAX_ATTEMPTS='0' is out of range"):
        Settings.from_env({"REFERENCE_MAX_ATTEMPTS": "0"})
    with pytest.raises(SettingsError, match="needs REFERENCE_TEST_CONTROLS=1"):
        Settings.from_env({"REFERENCE_BUG_IGNORE_CLIENT_REQUEST_ID": "1"})
    with pytest.raises(SettingsError, match="is not a flag"):
        Settings.from_env({"REFERENCE_TEST_CONTROLS": "maybe"})


def test_uuid7_is_a_time_ordered_v7_uuid():
    ids = [uuid7() for _ in range(200)]
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == 200
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)  # the millisecond prefix never goes back


def test_transition_table_covers_every_status_and_terminals_only_expire():
    assert set(TRANSITIONS) == set(JobStatus)
    for status in TERMINAL - {JobStatus.EXPIRED}:
        assert TRANSITIONS[status] == {JobStatus.EXPIRED}
    assert TRANSITIONS[JobStatus.EXPIRED] == frozenset()
    assert "completed" not in allowed_sources(JobStatus.RUNNING)
    assert set(allowed_sources(JobStatus.CANCELLED)) == {"queued", "running", "processing_artifacts"}


def test_artifact_is_a_pure_function_of_file_ids(tmp_path):
    size, checksum = storage.write_artifact(str(tmp_path), "a", [10001, 10002])
    size2, checksum2 = storage.write_artifact(str(tmp_path), "b", [10001, 10002])
    _, other = storage.write_artifact(str(tmp_path), "c", [10002, 10001])
    assert (size, checksum) == (size2, checksum2) == (2048, checksum) and other != checksum
    assert not list(tmp_path.glob(".*tmp"))


def test_signed_url_matches_nginx_secure_link_and_refuses_tampering():
    url = storage.signed_url("job", "secret", 60, now=1000)
    path, query = url.split("?")
    params = dict(p.split("=") for p in query.split("&"))
    assert params["expires"] == "1060"
    # nginx: secure_link_md5 "$secure_link_expires$uri secret"; base64url, no padding
    assert params["md5"] == storage._md5_token("/artifacts/job.bin", 1060, "secret") and "=" not in params["md5"]
    assert storage.check_signature(path, params["md5"], "1060", "secret", now=1000) == "ok"
    assert storage.check_signature(path, params["md5"], "1061", "secret", now=1000) == "invalid"
    assert storage.check_signature(path, params["md5"], "1060", "other", now=1000) == "invalid"
    assert storage.check_signature(path, params["md5"], "1060", "secret", now=2000) == "expired"
    assert storage.check_signature(path, None, None, "secret") == "invalid"


def test_a_job_past_its_ttl_reads_expired():
    h = {"status": "completed", "expiresAt": "1000"}
    assert effective_status(h, now_ms=999) is JobStatus.COMPLETED
    assert effective_status(h, now_ms=1000) is JobStatus.EXPIRED
