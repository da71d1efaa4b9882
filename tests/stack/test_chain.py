"""A "95 s" job through every named front: what each flow sees is what the config's header promises.

Polling, SSE and the download must pass behind every real front; the legacy synchronous start must be cut
(504, or 524 behind the Cloudflare-like edge) wherever a timer shorter than the job sits in the chain, and
pass behind the permissive origin. Both sides are asserted, from the same recorded history the checker reads.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

from harness.clients import ServiceClient
from harness.fronts.nginx import available_configs, load_proxy_config
from harness.fronts.timers import chain_timers
from harness.judge import CheckParams, check, render_text
from harness.judge.history import History, read_history
from harness.stack import Stack, StackConfig

pytestmark = pytest.mark.stack
JOB_MS = 95_000
# The legacy side uses the longest job of the 10-120 s range: a 95 s job would slip under Cloudflare's 100 s.
LEGACY_JOB_MS = 120_000
LEGACY_STATUS = {"cloudflare-edge": 524, "permissive": 200}  # every other front: 504
# In containers, a representative subset (two plain fronts, an edge before its origin, the buffering negative
# control): every front renders from the same template either way, and each case costs a boot of ~3 s.
CONTAINER_CONFIGS = ("recommended", "nginx-defaults", "cloudflare-edge", "buffered-sse")
CASES = [pytest.param("local", name, id=f"local-{name}") for name in available_configs()] + [
    pytest.param("containers", name, id=f"containers-{name}", marks=pytest.mark.containers)
    for name in CONTAINER_CONFIGS
]


def run_flows(base_url: str, history: History, time_scale: float, idle_s: float) -> dict[str, str]:
    """One job polled, streamed and downloaded by two clients, and a legacy start of the same length."""
    budget = JOB_MS / 1000 * time_scale * 3 + 10
    with (
        ServiceClient(base_url, history, "poller") as poller,
        ServiceClient(base_url, history, "sse") as follower,
        ServiceClient(base_url, history, "legacy") as legacy,
        concurrent.futures.ThreadPoolExecutor(3) as pool,
    ):
        legacy_call = pool.submit(legacy.legacy_start, [10001], simulate={"durationMs": LEGACY_JOB_MS})
        init = poller.initiate([10001, 10002], simulate={"durationMs": JOB_MS})
        assert init.outcome == "ok" and init.job is not None and init.job.job_id, init
        job_id = init.job.job_id
        stream = pool.submit(follower.follow_sse, job_id, budget)
        poll = poller.poll_until_terminal(job_id, budget)
        download = poller.download(job_id, poll.last.job.checksum if poll.last.job else None)
        sse, legacy_reply = stream.result(), legacy_call.result()
    return {
        "poll": "pass" if poll.outcome == "ok" and poll.last.job and poll.last.job.status == "completed" else "fail",
        "sse": "pass"
        if sse.ok and sse.terminal == "completed" and sse.connections == 1 and sse.max_gap_s < idle_s
        else "fail",
        "download": "pass" if download.outcome == "ok" and download.checksum_ok else "fail",
        "legacy": "pass" if legacy_reply.http_status == 200 else "fail",
        "legacy_status": str(legacy_reply.http_status),
    }


@pytest.mark.parametrize(("backend", "name"), CASES, indirect=["backend"])
def test_each_front_passes_and_fails_the_flows_its_header_promises(
    backend: str, name: str, time_scale: float, tmp_path: Path
) -> None:
    config = load_proxy_config(name)
    chain = chain_timers(config, time_scale)
    idle_s = chain.on_clock(chain.flow("sse").idle_timeout_s)
    path = tmp_path / "history.jsonl"
    stack_config = StackConfig(backend=backend, proxy_config=name, time_scale=time_scale)
    with Stack(stack_config) as stack, History(path) as history:
        seen = run_flows(stack.endpoints.edge_url, history, time_scale, idle_s)
    legacy_status = seen.pop("legacy_status")
    assert seen == dict(config.expectations), seen
    assert legacy_status == str(LEGACY_STATUS.get(name, 504))
    result = check(read_history([path]), CheckParams.for_scale(time_scale, idle_timer_s=idle_s))
    kinds = {a.kind for a in result.anomalies}
    assert not result.stats.proxy_timeouts["async"], render_text(result)  # no 502/504/524 on any async request
    if config.expectations["sse"] == "pass":
        assert result.valid, render_text(result)
    else:
        # held-back heartbeats: the gap exceeds the idle timer (and the first event comes late, over budget)
        assert "sse_gap" in kinds and kinds <= {"sse_gap", "over_budget"}, render_text(result)
