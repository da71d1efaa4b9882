"""The one sentence a reader wants first: which config to ship, and why.

Among the configs that are safe (poll, SSE and download passed, no job lost, duplicated or regressed), ship
the one with the widest SSE margin (its SSE idle timer over the largest gap seen), then the lowest poll p99.
Without a matrix (a boundary-only run) the widest measured SSE boundary decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.report.analyse import ASYNC_FLOWS
from harness.report.fmt import num

HEARTBEAT_S = 15.0  # the service's default heartbeat (modelled s): the margin a boundary-only verdict measures


def decide(configs: Sequence[Mapping[str, Any]], boundaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """{"ship": name or None, "sentence": str, "safe": [names], "unsafe": {name: why}}."""
    if configs:
        return _from_matrix(configs)
    return _from_boundaries(boundaries)


def _rank(config: Mapping[str, Any]) -> tuple[float, float]:
    p99 = config["flows"]["poll"].get("p99_ms")
    return (-(config.get("headroom") or 0.0), p99 if p99 is not None else float("inf"))


def _broken(config: Mapping[str, Any]) -> str:
    """Why a config is not safe, in the reader's words: 'SSE silent for 110.7 s, past its 60 s idle timer'."""
    parts = []
    for name in ASYNC_FLOWS:
        flow = config["flows"][name]
        if flow["verdict"] != "fail":
            continue
        gap, idle = flow.get("max_gap_s"), flow.get("idle_timer_s")
        if name == "sse" and gap and idle and gap >= idle:
            parts.append(f"SSE silent for {num(gap)} s, past its {num(idle)} s idle timer")
        elif flow["proxy_timeouts"]:
            parts.append(f"{name} cut {flow['proxy_timeouts']} times by the proxy")
        else:
            parts.append(f"{name}: {flow['why']}")
    parts += [f"{n} {kind}" for kind, n in sorted(config.get("job_anomalies", {}).items())]
    parts += [f"inconclusive: {why}" for why in config.get("inconclusive", [])]
    return ", ".join(parts) or "no async flow exercised"


def _fates(jobs: Mapping[str, int]) -> str:
    """'24 of 25 jobs completed, 1 failed after its retries'."""
    done = f"{jobs.get('completed', 0)} of {jobs.get('acknowledged', 0)} jobs completed"
    failed = jobs.get("failed", 0)
    return done + (f", {failed} failed after their retries" if failed else "")


def _from_matrix(configs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    safe = sorted((c for c in configs if c["safe"]), key=_rank)
    unsafe = {c["name"]: _broken(c) for c in configs if not c["safe"]}
    avoid = "; avoid " + ", ".join(f"{n} ({why})" for n, why in unsafe.items()) if unsafe else ""
    if not safe:
        sentence = "ship none: every config broke the async flow" + avoid.replace("; avoid", " —", 1)
        return {"ship": None, "sentence": sentence + ".", "safe": [], "unsafe": unsafe}
    best = safe[0]
    flows = best["flows"]
    requests = sum(flows[f]["requests"] for f in ASYNC_FLOWS)
    jobs = best["jobs"]
    faults = f" through {len(best['faults'])} faults" if best["faults"] else ""
    margin = ""
    if best.get("headroom"):
        widest = " (the widest of the safe configs)" if len(safe) > 1 else ""
        margin = (
            f", and its largest SSE gap ({num(flows['sse']['max_gap_s'])} s) sits {num(best['headroom'])}x under its "
            f"{num(flows['sse']['idle_timer_s'])} s idle timer{widest}"
        )
    sentence = (
        f"ship {best['name']}: poll, SSE and download passed with 0 proxy timeouts in {requests} requests and no "
        f"job lost{faults} ({_fates(jobs)}){margin}{avoid}."
    )
    return {"ship": best["name"], "sentence": sentence, "safe": [c["name"] for c in safe], "unsafe": unsafe}


def _where(b: Mapping[str, Any]) -> str:
    if b["relation"] == "below":
        return f"under {num(b['upper_s'])} s"
    if b["relation"] == "above":
        return f"beyond {num(b['lower_s'])} s"
    return f"about {num(b['measured_s'])} s"


def _from_boundaries(boundaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    sse = [b for b in boundaries if b["flow"] == "sse"]
    if not sse:
        cuts = ", ".join(f"{b['config']} cuts the synchronous start at {_where(b)}" for b in boundaries)
        sentence = f"no config to ship from legacy boundaries alone (the async flow was not measured): {cuts}."
        return {"ship": None, "sentence": sentence if boundaries else "nothing was measured.", "safe": [], "unsafe": {}}
    survive = sorted((b for b in sse if (b["lower_s"] or 0.0) > HEARTBEAT_S), key=lambda b: -(b["lower_s"] or 0.0))
    unsafe = {b["config"]: f"SSE breaks below a {HEARTBEAT_S:g} s heartbeat" for b in sse if b not in survive}
    if not survive:
        return {
            "ship": None,
            "sentence": "ship none: no config carries a 15 s heartbeat.",
            "safe": [],
            "unsafe": unsafe,
        }
    best = survive[0]
    sentence = (
        f"ship {best['config']}: its stream survives heartbeats up to {num(best['lower_s'])} s, "
        f"{best['lower_s'] / HEARTBEAT_S:.1f}x the service's {HEARTBEAT_S:g} s heartbeat (the widest margin measured)."
    )
    return {"ship": best["config"], "sentence": sentence, "safe": [b["config"] for b in survive], "unsafe": unsafe}
