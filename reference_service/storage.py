"""Artifacts and their signed URLs.

An artifact's bytes are a pure function of the job's fileIds, so any client can recompute and verify
what it downloaded. Signed URLs use nginx's `secure_link` format so a front can serve the files itself:
md5 = base64url(md5("<expires><uri> <secret>")) without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

BLOCK_BYTES = 1024
ARTIFACT_PREFIX = "/artifacts/"


def file_block(file_id: int) -> bytes:
    """The deterministic content of one file: 1 KiB derived from its id."""
    seed = hashlib.sha256(f"file:{file_id}".encode()).digest()
    return (seed * (BLOCK_BYTES // len(seed) + 1))[:BLOCK_BYTES]


def artifact_chunks(file_ids: Iterable[int]) -> Iterator[bytes]:
    for file_id in file_ids:
        yield file_block(file_id)


def artifact_name(job_id: str) -> str:
    return f"{job_id}.bin"


def write_artifact(artifact_dir: str, job_id: str, file_ids: list[int]) -> tuple[int, str]:
    """Write the artifact atomically (temp file + rename); returns (size, "sha256:<hex>")."""
    directory = Path(artifact_dir)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / artifact_name(job_id)
    tmp = directory / f".{artifact_name(job_id)}.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as fh:
        for chunk in artifact_chunks(file_ids):
            fh.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    os.chmod(final, 0o644)
    return size, f"sha256:{digest.hexdigest()}"


def artifact_path(artifact_dir: str, job_id: str) -> Path:
    return Path(artifact_dir) / artifact_name(job_id)


def _md5_token(uri: str, expires: int, secret: str) -> str:
    raw = hashlib.md5(f"{expires}{uri} {secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def signed_url(job_id: str, secret: str, ttl_seconds: float, now: float | None = None) -> str:
    """A relative URL, so the client follows it through whatever front it came in by."""
    uri = ARTIFACT_PREFIX + artifact_name(job_id)
    expires = int((time.time() if now is None else now) + max(1.0, ttl_seconds))
    return f"{uri}?md5={_md5_token(uri, expires, secret)}&expires={expires}"


def check_signature(uri: str, md5: str | None, expires: str | None, secret: str, now: float | None = None) -> str:
    """Mirror nginx secure_link: "ok", "invalid" (-> 403) or "expired" (-> 410)."""
    if not md5 or not expires or not expires.isdigit():
        return "invalid"
    if not hmac.compare_digest(md5, _md5_token(uri, int(expires), secret)):
        return "invalid"
    if int(expires) < (time.time() if now is None else now):
        return "expired"
    return "ok"
