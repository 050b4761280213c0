"""Actions planned as data: what will change, on what it was planned, and who may do it.

A plan is a list of API operations plus the sentence a person confirms ("scale shop-web from
4 to 0 replicas in namespace shop"). Every write carries a resourceVersion precondition on the object
(409 from the API server), so the API server itself refuses a plan made against an older state.
Pure: the caller hands over a fresh snapshot and the request; nothing here talks to a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import _rollouts as ro
from bot.domain.environments import Environment
from bot.domain.findings import ACTION_IDS
from bot.domain.snapshot import Obj, Snapshot, get, labels, name, owner

READ_ONLY = frozenset({"logs", "events"})
CHANGING = ACTION_IDS - READ_ONLY
PREVIOUS_REPLICAS = "deploybot.io/replicas-before-scale-to-zero"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
LOG_TAIL_LINES = 200
MAX_RETRY_PODS = 50

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"

_PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}",
    "Pod": "/api/v1/namespaces/{ns}/pods/{name}",
    "Rollout@argo": "/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}",
}


class ActionRefused(Exception):
    """The action cannot be planned as asked; the message says why and what to do instead."""


@dataclass(frozen=True)
class ActionRequest:
    environment: str
    action: str
    #: "shop-web", "Deployment/shop-web" or a pod name; None when the environment has one workload
    target: str | None
    actor: str
    params: Mapping[str, str] = field(default_factory=dict)
    #: the Slack user-groups of the actor, for operators listed as groups
    actor_groups: tuple[str, ...] = ()
    #: what the message showing the button was built from (`fingerprint`); None from a terminal
    expected: str | None = None
    #: idempotency key: the same key runs at most once
    key: str | None = None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    body: Any = None
    content_type: str = "application/json"
    query: tuple[tuple[str, str], ...] = ()
    #: for error messages: "patch deployments in namespace shop"
    what: str = ""
    #: the response is plain text (pod logs), not JSON
    text: bool = False


@dataclass(frozen=True)
class Plan:
    action: str
    environment: str
    namespace: str
    #: "Deployment/shop-web"
    target: str
    changing: bool
    #: the confirmation sentence: exactly what will change
    description: str
    operations: tuple[Operation, ...]
    #: state of the target this plan was made against (see `fingerprint`)
    fingerprint: str
    #: the object the audit Event is attached to
    involved: Mapping[str, str]
    #: read-only answers computed from the snapshot itself (events)
    lines: tuple[str, ...] = ()


def fingerprint(obj: Obj) -> str:
    """What a release-order button was made against: spec generation and rollout revision.

    Status churn (ready counts, conditions) does not change it; a new rollout, a pause, a
    scale or a rollback does, so a stale button is refused instead of acting on another order.
    """
    revision = (
        ro.annotation(obj, "deployment.kubernetes.io/revision")
        or str(get(obj, "status", "updateRevision", default=""))
        or str(get(obj, "status", "currentPodHash", default=""))
    )
    return f"{get(obj, 'metadata', 'generation', default=0)}/{revision}"


def is_allowed(env: Environment, request: ActionRequest) -> bool:
    """Read-only for everyone; changes on a protected environment only for its operators (deny by default)."""
    if request.action in READ_ONLY or not env.protected:
        return True
    allowed = set(env.operators)
    return request.actor in allowed or bool(allowed.intersection(request.actor_groups))


def plan(request: ActionRequest, env: Environment, snapshot: Snapshot, *, now: datetime) -> Plan:
    if request.action not in READ_ONLY | CHANGING:
        known = ", ".join(sorted(READ_ONLY | CHANGING))
        raise ActionRefused(f"unknown action {request.action!r} (known: {known})")
    if request.action in ("delete_pod", "logs") or (
        request.action == "events" and _names_pod(request, snapshot)
    ):
        pod = _pod(snapshot, request.target)
        return _POD_PLANNERS[request.action](request, env, snapshot, pod, now)
    kind, obj = _workload(snapshot, request.target, request.action)
    if request.expected is not None and request.expected != fingerprint(obj):
        raise StaleAction(
            f"the release order of {kind}/{name(obj)} changed since this message "
            f"({request.expected} → {fingerprint(obj)}); inspect again"
        )
    return _WORKLOAD_PLANNERS[request.action](request, env, snapshot, kind, obj, now)


class StaleAction(ActionRefused):
    """The object changed since the message with the button was posted."""


# ---------------------------------------------------------------- target resolution


def _names_pod(request: ActionRequest, snapshot: Snapshot) -> bool:
    wanted = (request.target or "").removeprefix("Pod/")
    return bool(request.target) and any(name(p) == wanted for p in snapshot.pods)


def _pod(snapshot: Snapshot, target: str | None) -> Obj:
    if not target:
        raise ActionRefused("name the pod: deploybot act ENV ACTION POD")
    wanted = target.removeprefix("Pod/")
    for pod in snapshot.pods:
        if name(pod) == wanted:
            return pod
    raise ActionRefused(f"no pod {wanted!r} in namespace {snapshot.namespace} (it may be gone already)")


def _workloads(snapshot: Snapshot) -> list[tuple[str, Obj]]:
    managed = {ref for r in snapshot.argo_rollouts if (ref := ro.workload_ref(r))}
    workloads: list[tuple[str, Obj]] = [("Rollout@argo", r) for r in snapshot.argo_rollouts]
    workloads += [("Deployment", d) for d in snapshot.deployments if ("Deployment", name(d)) not in managed]
    workloads += [
        ("StatefulSet", s) for s in snapshot.statefulsets if ("StatefulSet", name(s)) not in managed
    ]
    return workloads


def _workload(snapshot: Snapshot, target: str | None, action: str) -> tuple[str, Obj]:
    candidates = _workloads(snapshot)
    if target:
        kind_hint, _, wanted = target.rpartition("/")
        matches = [
            (k, o) for k, o in candidates if name(o) == wanted and (not kind_hint or k.startswith(kind_hint))
        ]
        if not matches:
            known = ", ".join(f"{_ref(k, o)}" for k, o in candidates) or "none"
            raise ActionRefused(
                f"no workload {target!r} in namespace {snapshot.namespace} (workloads: {known})"
            )
        return matches[0]
    if len(candidates) == 1:
        return candidates[0]
    known = ", ".join(f"{_ref(k, o)}" for k, o in candidates) or "none found"
    raise ActionRefused(f"{action} needs a target: which workload? ({known})")


def _ref(kind: str, obj: Obj) -> str:
    """How a workload is named to people: Deployment/shop-web, Rollout/shop-web."""
    return f"{kind.split('@')[0]}/{name(obj)}"


def _path(kind: str, namespace: str, obj_name: str) -> str:
    return _PATHS[kind].format(ns=namespace, name=obj_name)


def _involved(kind: str, obj: Obj) -> dict[str, str]:
    return {
        "kind": kind.split("@")[0],
        "name": name(obj),
        "namespace": str(get(obj, "metadata", "namespace", default="")),
        "uid": str(get(obj, "metadata", "uid", default="")),
        "apiVersion": str(get(obj, "apiVersion", default="")),
    }


def _guarded(obj: Obj, ops: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON patch that applies only if nothing changed since the snapshot (optimistic concurrency)."""
    version = str(get(obj, "metadata", "resourceVersion", default=""))
    return [{"op": "replace", "path": "/metadata/resourceVersion", "value": version}, *ops]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _patch(
    kind: str, namespace: str, obj: Obj, ops: Sequence[dict[str, Any]], *, subresource: str = ""
) -> Operation:
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets"}.get(kind, "rollouts")
    return Operation(
        "PATCH",
        _path(kind, namespace, name(obj)) + subresource,
        body=_guarded(obj, ops) if not subresource else list(ops),
        content_type=JSON_PATCH,
        what=f"patch {plural}{subresource} in namespace {namespace}",
    )


def _status_patch(namespace: str, obj: Obj, body: dict[str, Any]) -> Operation:
    """Argo keeps pause and abort in status: a merge patch of the status subresource."""
    return Operation(
        "PATCH",
        _path("Rollout@argo", namespace, name(obj)) + "/status",
        body=body,
        content_type=MERGE_PATCH,
        what=f"patch rollouts/status in namespace {namespace}",
    )


def _annotation_ops(obj: Obj, values: Mapping[str, str | None]) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    if get(obj, "metadata", "annotations") is None:
        ops.append({"op": "add", "path": "/metadata/annotations", "value": {}})
    existing = get(obj, "metadata", "annotations", default={})
    for key, value in values.items():
        path = f"/metadata/annotations/{_escape(key)}"
        if value is None:
            if key in existing:
                ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "add", "path": path, "value": value})
    return ops


def _new(
    request: ActionRequest,
    env: Environment,
    kind: str,
    obj: Obj,
    description: str,
    operations: Sequence[Operation],
    *,
    changing: bool = True,
    lines: Sequence[str] = (),
) -> Plan:
    return Plan(
        action=request.action,
        environment=env.name,
        namespace=env.namespace,
        target=_ref(kind, obj),
        changing=changing,
        description=description,
        operations=tuple(operations),
        fingerprint=fingerprint(obj),
        involved=_involved(kind, obj),
        lines=tuple(lines),
    )


# ---------------------------------------------------------------- release orders


def _pause(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if get(obj, "spec", "paused") is True:
        raise ActionRefused(f"{where} is already paused")
    ops = [_patch(kind, env.namespace, obj, [{"op": "add", "path": "/spec/paused", "value": True}])]
    return _new(request, env, kind, obj, f"pause the release order of {where}", ops)


def _resume(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if ro.annotation(obj, ro.CLOSED_BY):
        raise ActionRefused(
            f"the release order of {where} is closed ({ro.closed_note(obj)}); start a new release"
        )
    paused_spec = get(obj, "spec", "paused") is True
    if kind == "Rollout@argo":
        if not paused_spec and not get(obj, "status", "pauseConditions"):
            raise ActionRefused(f"{where} is not paused: nothing to resume")
        ops = [_patch(kind, env.namespace, obj, [{"op": "add", "path": "/spec/paused", "value": False}])]
        ops.append(_status_patch(env.namespace, obj, {"status": {"pauseConditions": None}}))
        return _new(request, env, kind, obj, f"promote {where} to its next step", ops)
    if not paused_spec:
        raise ActionRefused(f"{where} is not paused: nothing to resume")
    ops = [_patch(kind, env.namespace, obj, [{"op": "add", "path": "/spec/paused", "value": False}])]
    return _new(request, env, kind, obj, f"resume the release order of {where}", ops)


def _close(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if ro.annotation(obj, ro.CLOSED_BY):
        raise ActionRefused(f"the release order of {where} is already closed ({ro.closed_note(obj)})")
    reason = request.params.get("reason", "closed from deploybot")
    note = {ro.CLOSED_BY: request.actor, ro.CLOSED_AT: _stamp(now), ro.CLOSED_REASON: reason}
    if kind == "Rollout@argo":
        ops = [_patch(kind, env.namespace, obj, _annotation_ops(obj, note))]
        ops.append(_status_patch(env.namespace, obj, {"status": {"abort": True}}))
        return _new(request, env, kind, obj, f"abort and close the release order of {where}", ops)
    if kind != "Deployment":
        raise ActionRefused(f"close_order works on Deployments and Argo Rollouts, not {where}")
    ops = [
        _patch(
            kind,
            env.namespace,
            obj,
            [*_annotation_ops(obj, note), {"op": "add", "path": "/spec/paused", "value": True}],
        )
    ]
    return _new(
        request, env, kind, obj, f"close the release order of {where}: pause it and mark it closed", ops
    )


def _rollback(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if kind != "Deployment":
        raise ActionRefused(f"rollback_order works on Deployments for now, not {where}")
    key = "deployment.kubernetes.io/revision"
    current = ro.as_int(ro.annotation(obj, key))
    older = [
        (ro.as_int(ro.annotation(rs, key)), rs)
        for rs in snapshot.replicasets
        if owner(rs, "Deployment") == name(obj) and 0 < ro.as_int(ro.annotation(rs, key)) < current
    ]
    if not older:
        raise ActionRefused(f"{where} has no earlier revision to roll back to")
    revision, previous = max(older, key=lambda pair: pair[0])
    template = dict(get(previous, "spec", "template", default={}))
    meta = dict(template.get("metadata") or {})
    meta["labels"] = {k: v for k, v in labels({"metadata": meta}).items() if k != "pod-template-hash"}
    template["metadata"] = meta
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "add", "path": "/spec/paused", "value": False},
        *_annotation_ops(obj, {ro.CLOSED_BY: None, ro.CLOSED_AT: None, ro.CLOSED_REASON: None}),
    ]
    images = ro.images(previous) or "?"
    description = (
        f"roll back {where} from revision {current} ({ro.images(obj)}) to revision {revision} ({images})"
    )
    return _new(request, env, kind, obj, description, [_patch(kind, env.namespace, obj, ops)])


def _retry(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if kind == "Rollout@argo":
        ops = [_status_patch(env.namespace, obj, {"status": {"abort": False}})]
        return _new(request, env, kind, obj, f"retry the aborted release order of {where}", ops)
    failed = [p for p in _pods_of(snapshot, kind, obj) if _failing(p)]
    if not failed:
        raise ActionRefused(f"{where} has no failed instances to retry")
    failed = failed[:MAX_RETRY_PODS]
    ops = [_delete_pod_op(env.namespace, p) for p in failed]
    names = ", ".join(name(p) for p in failed)
    return _new(request, env, kind, obj, f"recreate {len(failed)} failed pod(s) of {where}: {names}", ops)


def _restart(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if kind == "Rollout@argo":
        ops = [
            _patch(kind, env.namespace, obj, [{"op": "add", "path": "/spec/restartAt", "value": _stamp(now)}])
        ]
        return _new(request, env, kind, obj, f"restart every pod of {where}", ops)
    annotations = get(obj, "spec", "template", "metadata", "annotations")
    patch: list[dict[str, Any]] = []
    if get(obj, "spec", "template", "metadata") is None:
        patch.append({"op": "add", "path": "/spec/template/metadata", "value": {}})
    if annotations is None:
        patch.append({"op": "add", "path": "/spec/template/metadata/annotations", "value": {}})
    patch.append(
        {
            "op": "add",
            "path": f"/spec/template/metadata/annotations/{_escape(RESTARTED_AT)}",
            "value": _stamp(now),
        }
    )
    replicas = ro.desired(obj)
    return _new(
        request,
        env,
        kind,
        obj,
        f"restart {where}: replace its {replicas} pod(s) one batch at a time",
        [_patch(kind, env.namespace, obj, patch)],
    )


def _scale(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = _ref(kind, obj)
    if kind not in ("Deployment", "StatefulSet"):
        raise ActionRefused(f"scale works on Deployments and StatefulSets, not {where}")
    raw = request.params.get("replicas")
    if raw is None or not raw.isdigit():
        raise ActionRefused("scale needs a replica count: --replicas N (0 or more)")
    wanted, current = int(raw), ro.desired(obj)
    if wanted == current:
        raise ActionRefused(f"{where} already has {current} replicas")
    note: dict[str, str | None] = {}
    if wanted == 0:
        note = {PREVIOUS_REPLICAS: str(current)}
    elif ro.annotation(obj, PREVIOUS_REPLICAS):
        note = {PREVIOUS_REPLICAS: None}
    description = f"scale {where} from {current} to {wanted} replicas in namespace {env.namespace}"
    if wanted == 0:
        description += f" (remembering {current} for restore)"
    return _new(request, env, kind, obj, description, _scale_ops(kind, env.namespace, obj, wanted, note))


def _scale_ops(
    kind: str, namespace: str, obj: Obj, replicas: int, note: Mapping[str, str | None]
) -> list[Operation]:
    """Through the scale subresource, guarded by the snapshot's resourceVersion (the Scale object
    carries its workload's), then the remembered count as an annotation. The scale goes first: if
    it is refused (403, 409) nothing has changed."""
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets"}[kind]
    version = str(get(obj, "metadata", "resourceVersion", default=""))
    ops = [
        Operation(
            "PATCH",
            _path(kind, namespace, name(obj)) + "/scale",
            body={"metadata": {"resourceVersion": version}, "spec": {"replicas": replicas}},
            content_type=MERGE_PATCH,
            what=f"patch {plural}/scale in namespace {namespace}",
        )
    ]
    if note:
        ops.append(
            Operation(
                "PATCH",
                _path(kind, namespace, name(obj)),
                body=_annotation_ops(obj, note),
                content_type=JSON_PATCH,
                what=f"patch {plural} in namespace {namespace}",
            )
        )
    return ops


def _restore(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = _ref(kind, obj)
    remembered = ro.annotation(obj, PREVIOUS_REPLICAS)
    if not remembered.isdigit():
        raise ActionRefused(f"{where} was not scaled to 0 by deploybot: no replica count to restore")
    if kind not in ("Deployment", "StatefulSet"):
        raise ActionRefused(f"restore works on Deployments and StatefulSets, not {where}")
    description = (
        f"restore {where} from {ro.desired(obj)} to {remembered} replicas in namespace {env.namespace}"
    )
    ops = _scale_ops(kind, env.namespace, obj, int(remembered), {PREVIOUS_REPLICAS: None})
    return _new(request, env, kind, obj, description, ops)


def _workload_events(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    involved = {name(obj)} | {name(p) for p in _pods_of(snapshot, kind, obj)}
    involved |= {name(rs) for rs in snapshot.replicasets if owner(rs) == name(obj)}
    lines = _warning_lines([e for e in snapshot.events if get(e, "involvedObject", "name") in involved])
    return _new(
        request,
        env,
        kind,
        obj,
        f"recent Warning events of {_ref(kind, obj)}",
        [],
        changing=False,
        lines=lines,
    )


# ---------------------------------------------------------------- pods


def _delete_pod_op(namespace: str, pod: Obj, *, force: bool = False) -> Operation:
    body: dict[str, Any] = {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {"uid": str(get(pod, "metadata", "uid", default=""))},
    }
    if force:
        body["gracePeriodSeconds"] = 0
    return Operation(
        "DELETE", _path("Pod", namespace, name(pod)), body=body, what=f"delete pods in namespace {namespace}"
    )


def _delete_pod(
    request: ActionRequest, env: Environment, snapshot: Snapshot, pod: Obj, now: datetime
) -> Plan:
    force = request.params.get("force") == "true"
    if get(pod, "metadata", "deletionTimestamp") and not force:
        raise ActionRefused(f"pod {name(pod)} is already being deleted; use force to skip its grace period")
    how = "force-delete (no grace period)" if force else "delete"
    owner_note = (
        f", {owner(pod)} will recreate it" if owner(pod) else " (no controller: it will not come back)"
    )
    return Plan(
        action=request.action,
        environment=env.name,
        namespace=env.namespace,
        target=f"Pod/{name(pod)}",
        changing=True,
        description=f"{how} pod {name(pod)} in namespace {env.namespace}{owner_note}",
        operations=(_delete_pod_op(env.namespace, pod, force=force),),
        fingerprint=fingerprint(pod),
        involved=_involved("Pod", pod),
    )


def _logs(request: ActionRequest, env: Environment, snapshot: Snapshot, pod: Obj, now: datetime) -> Plan:
    containers = [str(c.get("name")) for c in get(pod, "spec", "containers", default=[])]
    container = request.params.get("container") or (containers[0] if containers else "")
    if container not in containers:
        raise ActionRefused(
            f"pod {name(pod)} has no container {container!r} (containers: {', '.join(containers)})"
        )
    previous = request.params.get("previous") == "true"
    query = [("container", container), ("tailLines", str(LOG_TAIL_LINES))]
    if previous:
        query.append(("previous", "true"))
    which = "the previous (crashed) container" if previous else "container"
    return Plan(
        action=request.action,
        environment=env.name,
        namespace=env.namespace,
        target=f"Pod/{name(pod)}",
        changing=False,
        description=f"last {LOG_TAIL_LINES} log lines of {which} {container} in pod {name(pod)}",
        operations=(
            Operation(
                "GET",
                _path("Pod", env.namespace, name(pod)) + "/log",
                query=tuple(query),
                what=f"get pods/log in namespace {env.namespace}",
                text=True,
            ),
        ),
        fingerprint=fingerprint(pod),
        involved=_involved("Pod", pod),
    )


def _pod_events(
    request: ActionRequest, env: Environment, snapshot: Snapshot, pod: Obj, now: datetime
) -> Plan:
    return Plan(
        action=request.action,
        environment=env.name,
        namespace=env.namespace,
        target=f"Pod/{name(pod)}",
        changing=False,
        description=f"recent Warning events of pod {name(pod)}",
        operations=(),
        fingerprint=fingerprint(pod),
        involved=_involved("Pod", pod),
        lines=_warning_lines([e for e in snapshot.events if get(e, "involvedObject", "name") == name(pod)]),
    )


def _warning_lines(events: Sequence[Obj], limit: int = 20) -> tuple[str, ...]:
    warnings = [e for e in events if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""), reverse=True)
    lines = []
    for event in warnings[:limit]:
        involved = get(event, "involvedObject", default={})
        count = ro.as_int(event.get("count"), 1) or 1
        lines.append(
            f"{involved.get('kind')}/{involved.get('name')}: {event.get('reason')}: "
            f"{event.get('message')}" + (f" ×{count}" if count > 1 else "")
        )
    return tuple(lines) or ("no Warning events",)


def _pods_of(snapshot: Snapshot, kind: str, obj: Obj) -> list[Obj]:
    if kind == "Deployment":
        sets = {name(rs) for rs in snapshot.replicasets if owner(rs, "Deployment") == name(obj)}
        return [p for p in snapshot.pods if owner(p, "ReplicaSet") in sets]
    return [p for p in snapshot.pods if owner(p) == name(obj)]


def _failing(pod: Obj) -> bool:
    if get(pod, "metadata", "deletionTimestamp"):
        return False  # already on its way out
    if get(pod, "status", "phase") == "Failed":
        return True
    for status in get(pod, "status", "containerStatuses", default=[]):
        if get(status, "state", "waiting", "reason") in {
            "CrashLoopBackOff",
            "ImagePullBackOff",
            "ErrImagePull",
            "CreateContainerConfigError",
            "RunContainerError",
        }:
            return True
    return False


def _stamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


_WORKLOAD_PLANNERS = {
    "pause_order": _pause,
    "resume_order": _resume,
    "close_order": _close,
    "rollback_order": _rollback,
    "retry_failed": _retry,
    "restart": _restart,
    "scale": _scale,
    "restore": _restore,
    "events": _workload_events,
}
_POD_PLANNERS = {"delete_pod": _delete_pod, "logs": _logs, "events": _pod_events}
