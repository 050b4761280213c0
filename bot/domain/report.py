"""The shape of an inspection report: pod rows and the one-line summary. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.diagnosis_types import Finding
from bot.domain.releases import ReleaseOrder
from bot.domain.snapshot import Obj, Snapshot, get, name


@dataclass(frozen=True)
class PodRow:
    name: str
    phase: str
    ready: bool
    restarts: int
    node: str
    #: the most telling container state: CrashLoopBackOff, OOMKilled, Terminating...
    status: str


def pod_row(pod: Obj) -> PodRow:
    statuses = list(get(pod, "status", "containerStatuses", default=[]))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    ready = _ready(pod, statuses)
    phase = str(get(pod, "status", "phase", default="Unknown"))
    status = phase
    if get(pod, "metadata", "deletionTimestamp"):
        status = "Terminating"
    elif get(pod, "status", "reason"):
        status = str(get(pod, "status", "reason"))
    else:
        for s in statuses:
            waiting = get(s, "state", "waiting", "reason")
            terminated = get(s, "state", "terminated", "reason")
            if waiting or terminated:
                status = str(waiting or terminated)
                break
    return PodRow(name(pod), phase, ready, restarts, str(get(pod, "spec", "nodeName", default="")), status)


def _ready(pod: Obj, statuses: Sequence[Obj]) -> bool:
    """The pod's Ready condition, as kubectl and Services see it (readiness gates included);
    containers all ready only where a pod has no conditions yet."""
    for condition in get(pod, "status", "conditions", default=[]) or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return bool(statuses) and all(s.get("ready") for s in statuses)


def summarize(snapshot: Snapshot, orders: Sequence[ReleaseOrder], findings: Sequence[Finding]) -> str:
    """One line a person can read in a channel: health, pods, the current release order."""
    rows = [pod_row(p) for p in snapshot.pods]
    ready = sum(r.ready for r in rows)
    pods = f"{len(rows)} pods, {ready} ready" if rows else "no pods"
    scope = f" matching {snapshot.selector}" if snapshot.selector and not rows else ""
    current = [o for o in orders if o.current and o.state != "completed"]
    order = ""
    if current:
        o = current[0]
        order = f"; release order {o.target} {o.state} (batch {o.batch}/{o.batches})"
    if not findings:
        return f"{snapshot.environment}: healthy — {pods}{scope}{order}"
    counts = {sev: sum(f.severity == sev for f in findings) for sev in ("critical", "warning", "info")}
    worst = ", ".join(f"{n} {sev}" for sev, n in counts.items() if n)
    return f"{snapshot.environment}: {worst} — {pods}{scope}{order}"
