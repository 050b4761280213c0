"""Field readers behind release orders: Deployments, StatefulSets, Argo and OpenKruise Rollouts.

Total functions over raw API dicts: any field may be missing (a just-created object has no
status), so every reader has a default and none raises. `releases` assembles the results
into `ReleaseOrder`s. Times are returned timezone-aware (UTC assumed when the text has none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.snapshot import Obj, get, owner, parse_time

DEPLOY_REVISION = "deployment.kubernetes.io/revision"
ARGO_REVISION = "rollout.argoproj.io/revision"
ARGO_HASH = "rollouts-pod-template-hash"
STS_HASH = "controller-revision-hash"
#: set by deploybot when a person closes an order (关闭发布单)
CLOSED_BY = "deploybot.io/closed-by"
CLOSED_AT = "deploybot.io/closed-at"
CLOSED_REASON = "deploybot.io/closed-reason"
#: number of batches of a plain Deployment rollout (分批发布), when the team declares one
BATCHES = "deploybot.io/batches"
#: a Kruise batch still in StepUpgrade this long with pods missing counts as failed
KRUISE_STUCK_AFTER = timedelta(minutes=10)

#: (state, reason in the cluster's words)
State = tuple[str, str]


# --- generic readers -------------------------------------------------------------------------


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def count(obj: Obj | None, *path: str) -> int:
    """A replica count: missing or malformed counts are 0."""
    return max(0, as_int(get(obj, *path)))


def desired(obj: Obj | None) -> int:
    """spec.replicas, which the API defaults to 1."""
    return max(0, as_int(get(obj, "spec", "replicas"), 1))


def text(obj: Obj | None, *path: str) -> str:
    value = get(obj, *path, default="")
    return value if isinstance(value, str) else str(value)


def seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def annotation(obj: Obj | None, key: str) -> str:
    annotations = get(obj, "metadata", "annotations", default={})
    value = annotations.get(key) if isinstance(annotations, Mapping) else None
    return "" if value is None else str(value)


def label(obj: Obj | None, key: str) -> str:
    found = get(obj, "metadata", "labels", default={})
    value = found.get(key) if isinstance(found, Mapping) else None
    return "" if value is None else str(value)


def when(value: Any) -> datetime | None:
    parsed = parse_time(value)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def created(obj: Obj | None) -> datetime | None:
    return when(get(obj, "metadata", "creationTimestamp"))


def age(since: datetime | None, now: datetime) -> timedelta | None:
    if since is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now - since


def images(obj: Obj | None) -> str | None:
    """Container images of obj's pod template, joined with ", " (None when there are none)."""
    containers = seq(get(obj, "spec", "template", "spec", "containers"))
    found = [str(c["image"]) for c in containers if isinstance(c, Mapping) and c.get("image")]
    return ", ".join(found) or None


def condition(obj: Obj | None, kind: str) -> Obj | None:
    for cond in seq(get(obj, "status", "conditions")):
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def explain(cond: Obj | None) -> str:
    """'<reason>: <message>' of a condition."""
    return ": ".join(part for part in (text(cond, "reason"), text(cond, "message")) if part)


def condition_time(cond: Obj | None) -> datetime | None:
    return when(get(cond, "lastUpdateTime")) or when(get(cond, "lastTransitionTime"))


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def closed_note(obj: Obj) -> str:
    """Who closed the order, when and why, from the annotations deploybot sets ("" if not closed)."""
    by = annotation(obj, CLOSED_BY)
    if not by:
        return ""
    at, reason = annotation(obj, CLOSED_AT), annotation(obj, CLOSED_REASON)
    return f"closed by {by}" + (f" at {at}" if at else "") + (f": {reason}" if reason else "")


def owned_sets(replicasets: Iterable[Obj], kind: str, owner_name: str, key: str) -> list[tuple[int, Obj]]:
    """ReplicaSets controlled by kind/owner_name with their revision number (-1 if unknown), newest first."""
    found = [(as_int(annotation(rs, key), -1), rs) for rs in replicasets if owner(rs, kind) == owner_name]
    return sorted(found, key=lambda item: item[0], reverse=True)


def pod_times(
    pods: Iterable[Obj], kind: str, owner_name: str, revision: str
) -> tuple[datetime | None, datetime | None]:
    """(first, last) creation time of owner's pods running `revision` (controller-revision-hash)."""
    times = sorted(
        t
        for pod in pods
        if revision and owner(pod, kind) == owner_name and label(pod, STS_HASH) == revision
        if (t := created(pod)) is not None
    )
    return (times[0], times[-1]) if times else (None, None)


def workload_ref(rollout: Obj) -> tuple[str, str] | None:
    """(kind, name) of the apps/v1 workload a Rollout drives: spec.workloadRef (Argo, Kruise v1beta1)
    or spec.objectRef.workloadRef (Kruise v1alpha1). Kruise CloneSets etc. are not apps/v1: None."""
    ref_ = get(rollout, "spec", "workloadRef") or get(rollout, "spec", "objectRef", "workloadRef")
    if not isinstance(ref_, Mapping) or not ref_.get("name") or not ref_.get("kind"):
        return None
    if str(ref_.get("apiVersion") or "apps/v1") != "apps/v1":
        return None
    return str(ref_["kind"]), str(ref_["name"])


# --- Deployment ------------------------------------------------------------------------------


def deployment_done(dep: Obj) -> bool:
    """What `kubectl rollout status` waits for: observed, all updated, no old pods, all available."""
    observed = as_int(get(dep, "status", "observedGeneration"), -1) >= as_int(
        get(dep, "metadata", "generation"), 0
    )
    updated = count(dep, "status", "updatedReplicas")
    return (
        observed
        and updated >= desired(dep)
        and count(dep, "status", "replicas") <= updated
        and count(dep, "status", "availableReplicas") >= updated
    )


def deployment_state(dep: Obj) -> State:
    paused = get(dep, "spec", "paused") is True
    progressing = condition(dep, "Progressing")
    if paused and annotation(dep, CLOSED_BY):
        return "closed", closed_note(dep)
    if text(progressing, "reason") == "ProgressDeadlineExceeded":
        return "failed", explain(progressing)
    if paused:
        return "paused", explain(progressing)
    return ("completed" if deployment_done(dep) else "deploying"), ""


def deployment_batch(dep: Obj) -> tuple[int, int]:
    """Batch k of n from the deploybot.io/batches annotation: k = ceil(updated / (desired / n))."""
    batches = as_int(annotation(dep, BATCHES), 1)
    if batches <= 1:
        return 1, 1
    k = -(-count(dep, "status", "updatedReplicas") * batches // max(desired(dep), 1))
    return clamp(k, 1, batches), batches


# --- StatefulSet -----------------------------------------------------------------------------


def partition(sts: Obj) -> int:
    """Pods held back by spec.updateStrategy.rollingUpdate.partition (0 for OnDelete)."""
    if text(sts, "spec", "updateStrategy", "type") not in ("", "RollingUpdate"):
        return 0
    return count(sts, "spec", "updateStrategy", "rollingUpdate", "partition")


def statefulset_state(sts: Obj) -> State:
    want, held = desired(sts), partition(sts)
    updated, ready = count(sts, "status", "updatedReplicas"), count(sts, "status", "readyReplicas")
    update = text(sts, "status", "updateRevision")
    observed = as_int(get(sts, "status", "observedGeneration"), -1) >= as_int(
        get(sts, "metadata", "generation"), 0
    )
    if held > 0 and annotation(sts, CLOSED_BY):
        return "closed", closed_note(sts)
    if observed and text(sts, "status", "currentRevision") == update and updated >= want and ready >= want:
        return "completed", ""
    # a batch boundary: the pods the partition lets through are updated and everything is ready
    if held > 0 and updated >= want - held and ready >= want:
        return "paused", f"partition {held}: {updated} of {want} pods on {update or 'the new revision'}"
    return "deploying", ""


def statefulset_batch(sts: Obj) -> tuple[int, int]:
    """With a partition every pod is a batch; without one the rollout is one batch."""
    if partition(sts) <= 0:
        return 1, 1
    batches = max(desired(sts), 1)
    return clamp(count(sts, "status", "updatedReplicas"), 1, batches), batches


def controller_revisions(revisions: Iterable[Obj], sts_name: str) -> list[tuple[int, Obj]]:
    """ControllerRevisions owned by StatefulSet sts_name with their `revision` number, newest first."""
    found = [
        (as_int(get(cr, "revision"), -1), cr) for cr in revisions if owner(cr, "StatefulSet") == sts_name
    ]
    return sorted(found, key=lambda item: item[0], reverse=True)


def revision_template(revision: Obj) -> Obj | None:
    """The pod template a StatefulSet ControllerRevision holds: `data` is the patch
    {"spec": {"template": {..., "$patch": "replace"}}} the controller applies to go back to it."""
    template = get(revision, "data", "spec", "template")
    if not isinstance(template, Mapping):
        return None
    return {k: v for k, v in template.items() if k != "$patch"}


# --- Argo Rollouts ---------------------------------------------------------------------------


def _is_weight(step: Any) -> bool:
    return isinstance(step, Mapping) and "setWeight" in step


def argo_steps(rollout: Obj) -> Sequence[Any]:
    return seq(get(rollout, "spec", "strategy", "canary", "steps"))


def argo_batch(rollout: Obj) -> tuple[int, int]:
    """Each setWeight step is a batch; k counts those passed, plus the current one if it is one."""
    steps = argo_steps(rollout)
    batches = max(1, sum(1 for step in steps if _is_weight(step)))
    index = count(rollout, "status", "currentStepIndex")
    k = sum(1 for step in steps[:index] if _is_weight(step))
    if index < len(steps) and _is_weight(steps[index]):
        k += 1
    return clamp(k, 1, batches), batches


def _argo_pauses(rollout: Obj) -> list[Obj]:
    return [c for c in seq(get(rollout, "status", "pauseConditions")) if isinstance(c, Mapping)]


def argo_state(rollout: Obj) -> State:
    phase = text(rollout, "status", "phase")
    message = text(rollout, "status", "message") or explain(condition(rollout, "Progressing"))
    pauses = _argo_pauses(rollout)
    if get(rollout, "status", "abort") is True:
        note = closed_note(rollout)
        return ("closed", note) if note else ("failed", message)
    if phase == "Degraded":
        return "failed", message
    if get(rollout, "spec", "paused") is True or pauses or phase == "Paused":
        parts = [text(c, "reason") for c in pauses] + [text(rollout, "status", "message")]
        return "paused", ", ".join(dict.fromkeys(part for part in parts if part))
    if phase == "Healthy" and count(rollout, "status", "currentStepIndex") >= len(argo_steps(rollout)):
        return "completed", ""
    return "deploying", ""


def argo_changed_at(rollout: Obj) -> datetime | None:
    """When it got into its state: aborted, paused (latest pause), else the Progressing condition."""
    if get(rollout, "status", "abort") is True and (aborted := when(get(rollout, "status", "abortedAt"))):
        return aborted
    paused = [t for c in _argo_pauses(rollout) if (t := when(get(c, "startTime"))) is not None]
    if paused:
        return max(paused)
    return condition_time(condition(rollout, "Progressing"))


# --- OpenKruise Rollouts ---------------------------------------------------------------------


def kruise_progress(rollout: Obj) -> Obj | None:
    """status.canaryStatus (or status.blueGreenStatus): the step being rolled out."""
    for key in ("canaryStatus", "blueGreenStatus"):
        found = get(rollout, "status", key)
        if isinstance(found, Mapping):
            return found
    return None


def kruise_steps(rollout: Obj) -> Sequence[Any]:
    strategy = get(rollout, "spec", "strategy")
    return seq(get(strategy, "canary", "steps")) or seq(get(strategy, "blueGreen", "steps"))


def kruise_batch(rollout: Obj) -> tuple[int, int]:
    """Every step is a batch; currentStepIndex is 1-based."""
    batches = max(1, len(kruise_steps(rollout)))
    index = as_int(get(kruise_progress(rollout), "currentStepIndex"), -1)
    if index < 0:
        index = as_int(get(rollout, "status", "currentStepIndex"))
    return clamp(index, 1, batches), batches


def kruise_canary(rollout: Obj) -> tuple[int, int]:
    """(pods on the new revision, of which ready) as the Rollout counts them."""
    progress = kruise_progress(rollout)
    pods = count(progress, "canaryReplicas") or count(progress, "updatedReplicas")
    ready = count(progress, "canaryReadyReplicas") or count(progress, "updatedReadyReplicas")
    return pods, ready


def kruise_planned(rollout: Obj, want: int | None) -> int:
    """Pods the current step asks for: steps[k-1].replicas, a number or a percentage of `want`."""
    batch, _ = kruise_batch(rollout)
    steps = kruise_steps(rollout)
    planned = get(steps[batch - 1], "replicas") if batch <= len(steps) else None
    if isinstance(planned, str) and planned.endswith("%") and want is not None:
        return -(-as_int(planned[:-1]) * want // 100)
    return max(0, as_int(planned))


def kruise_step_state(rollout: Obj) -> str:
    """currentStepState of the step being rolled out (StepUpgrade ... StepPaused, StepReady, Completed)."""
    return text(kruise_progress(rollout), "currentStepState") or text(rollout, "status", "currentStepState")


def kruise_progress_key(rollout: Obj) -> str:
    """Which status field carries the step: canaryStatus (canary) or blueGreenStatus."""
    if isinstance(get(rollout, "status", "blueGreenStatus"), Mapping) and not isinstance(
        get(rollout, "status", "canaryStatus"), Mapping
    ):
        return "blueGreenStatus"
    return "canaryStatus"


def kruise_state(rollout: Obj, now: datetime, want: int | None) -> State:
    """Kruise never fails a batch itself: a batch upgrading past KRUISE_STUCK_AFTER with pods
    missing or not ready is reported failed."""
    progress = kruise_progress(rollout)
    step_state = kruise_step_state(rollout)
    message = text(rollout, "status", "message") or text(progress, "message")
    if get(rollout, "spec", "disabled") is True:
        return "closed", closed_note(rollout) or "spec.disabled: the Rollout no longer drives its workload"
    if get(rollout, "spec", "strategy", "paused") is True:
        return "paused", text(rollout, "status", "message") or "spec.strategy.paused"
    if step_state == "StepPaused":
        return "paused", message or explain(condition(rollout, "Progressing"))
    pods, ready = kruise_canary(rollout)
    stuck = age(when(get(progress, "lastUpdateTime")), now)
    expected = max(pods, kruise_planned(rollout, want))
    if step_state == "StepUpgrade" and stuck is not None and stuck > KRUISE_STUCK_AFTER and ready < expected:
        batch, batches = kruise_batch(rollout)
        minutes = int(stuck.total_seconds() // 60)
        return "failed", (
            f"batch {batch}/{batches} stuck in StepUpgrade for {minutes}m: "
            f"{ready} of {expected} new pods ready"
        )
    if text(rollout, "status", "phase") == "Healthy" and (progress is None or step_state == "Completed"):
        return "completed", ""
    return "deploying", ""
