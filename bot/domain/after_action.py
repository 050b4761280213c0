"""What follows a change: the one-line result people read in the channel, the undo that can be
offered for it, and whether the cluster shows the change yet (so a re-inspection does not
report the counts from before it)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.domain.actions import Plan
from bot.domain.snapshot import Obj, Snapshot, get, name

_NAMESPACE = re.compile(r" in namespace \S+")
_ASIDE = re.compile(r" \((?:remembering|[^)]*for restore)[^)]*\)$")


def headline(plan: Plan) -> str:
    """ "scale Deployment/shop-web from 3 to 0 replicas": the description without where and asides
    (the channel knows the environment; the details go to the thread)."""
    return _ASIDE.sub("", _NAMESPACE.sub("", plan.description)).split(": ", 1)[0]


def undo(action: str, params: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    """The action that takes a change back, when there is one a person would press at once.
    Whether it applies is still decided by planning it on the state after the change."""
    if action == "scale" and params.get("replicas") == "0":
        return "restore", {}
    if action == "restore":
        return "scale", {"replicas": "0"}
    if action == "pause_order":
        return "resume_order", {}
    if action == "resume_order":
        return "pause_order", {}
    return None


_WORKLOAD_FIELDS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "Rollout": "argo_rollouts"}


def settled(snapshot: Snapshot, target: str) -> bool:
    """The workload's controller has seen its latest spec and its pods match it. A target we do
    not track (a pod, an unknown kind) counts as settled: there is nothing to wait for."""
    kind, _, wanted = target.partition("/")
    field = _WORKLOAD_FIELDS.get(kind)
    if field is None:
        return True
    found = [o for o in getattr(snapshot, field) if name(o) == wanted]
    return not found or _converged(found[0])


def _converged(obj: Obj) -> bool:
    generation = get(obj, "metadata", "generation", default=0) or 0
    observed = get(obj, "status", "observedGeneration")
    if observed is None or int(observed) < int(generation):
        return False
    desired = get(obj, "spec", "replicas", default=1)
    desired = 1 if desired is None else int(desired)
    current = int(get(obj, "status", "replicas", default=0) or 0)
    updated = int(get(obj, "status", "updatedReplicas", default=0) or 0)
    return current == desired and updated == desired
