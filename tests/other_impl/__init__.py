"""A second, independent implementation of the async-download pattern: Redis-backed, multi-process.

    REDIS_URL=redis://127.0.0.1:6379/0 ARTIFACT_DIR=/tmp/artifacts python -m other_impl api --host 127.0.0.1 --port 8123
    REDIS_URL=... ARTIFACT_DIR=... python -m other_impl worker --index 0 --concurrency 4

(from tests/, or `python -m tests.other_impl ...` from the project root). It speaks the contract as
`profile.toml` spells it: /api/jobs, snake_case fields, states pending/processing/done/error/cancelled, SSE
events connected/progress/done/error/cancelled, a `Request-Id` header, the bytes served by the download
endpoint. `spec.toml` is its service spec for the harness; `defects.py` lists the defects it can be switched to.
"""

from .config import artifact

__all__ = ["artifact"]
