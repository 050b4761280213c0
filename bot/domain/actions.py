"""Actions planned as data: what will change, on what it was planned, and who may do it.

A plan is a list of API operations plus the sentence a person confirms ("scale shop-web from
4 to 0 replicas in namespace shop"). Every write carries a resourceVersion precondition on the object
(409 from the API server), so the API server itself refuses a plan made against an older state.
Pure: the caller hands over a fresh snapshot and the request; nothing here talks to a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.domain import _rollouts as ro
from bot.domain.environments import Environment
from bot.domain.findings import ACTION_IDS
from bot.domain.snapshot import Obj, Snapshot, get, labels, name, owner

READ_ONLY = frozenset({"logs", "events"})
CHANGING = ACTION_IDS - READ_ONLY
PREVIOUS_REPLICAS = "deploybot.io/replicas-before-scale-to-zero"
#: set by a restore: "U012ABCDEF at 2026-11-22T02:10:14Z", so a second restore says who did the first
RESTORED = "deploybot.io/restored"
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
    "Rollout@kruise": "/apis/{api}/namespaces/{ns}/rollouts/{name}",
}
KRUISE_API_VERSIONS = ("rollouts.kruise.io/v1beta1", "rollouts.kruise.io/v1alpha1")
#: what changes a release order (the rest are instance-level: restart, scale, retry, events)
ORDER_ACTIONS = frozenset({"pause_order", "resume_order", "close_order", "rollback_order"})


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
    if str(get(obj, "apiVersion", default="")).startswith("rollouts.kruise.io/"):
        # an OpenKruise Rollout: the release (canary revision) and the batch it waits at, so an
        # approval made for batch 1 is not applied to batch 2
        progress = ro.kruise_progress(obj)
        revision = ro.text(progress, "canaryRevision") or ro.text(progress, "podTemplateHash")
        revision += f"#{ro.kruise_batch(obj)[0]}"
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
            f"the release order of {_ref(kind, obj)} changed since this message "
            f"({request.expected} → {fingerprint(obj)}); inspect again"
        )
    driver = _kruise_driver(snapshot, kind, obj)
    if driver is not None and request.action in ORDER_ACTIONS:
        raise ActionRefused(
            f"{_ref(kind, obj)} is released by the OpenKruise Rollout/{name(driver)}, which owns its pause "
            f"and batches: {request.action} Rollout/{name(driver)} instead"
        )
    if kind == "Rollout@kruise":
        return _KRUISE_PLANNERS[request.action](request, env, snapshot, obj, now)
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
    """What actions can target, Rollouts first (an unqualified name means the Rollout).

    An Argo Rollout with a workloadRef scales its Deployment to 0 and runs its own ReplicaSets,
    so that Deployment is not a target. A workload released by an OpenKruise Rollout still runs
    its own pods: it stays a target for restart, scale and retry (not for order actions)."""
    managed = {ref for r in snapshot.argo_rollouts if (ref := ro.workload_ref(r))}
    workloads: list[tuple[str, Obj]] = [("Rollout@argo", r) for r in snapshot.argo_rollouts]
    workloads += [("Rollout@kruise", r) for r in snapshot.kruise_rollouts]
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
    released = {ref for r in snapshot.kruise_rollouts if (ref := ro.workload_ref(r))}
    distinct = [(k, o) for k, o in candidates if (k, name(o)) not in released]
    if len(distinct) == 1:  # one workload, perhaps with the Kruise Rollout that releases it
        return distinct[0]
    known = ", ".join(f"{_ref(k, o)}" for k, o in candidates) or "none found"
    raise ActionRefused(f"{action} needs a target: which workload? ({known})")


def _ref(kind: str, obj: Obj) -> str:
    """How a workload is named to people: Deployment/shop-web, Rollout/shop-web."""
    return f"{kind.split('@')[0]}/{name(obj)}"


def _path(kind: str, namespace: str, obj_name: str) -> str:
    return _PATHS[kind].format(ns=namespace, name=obj_name)


def _obj_path(kind: str, namespace: str, obj: Obj) -> str:
    """The object's URL; an OpenKruise Rollout is written at its own apiVersion (v1beta1 or v1alpha1)."""
    api = str(get(obj, "apiVersion", default=""))
    api = api if api in KRUISE_API_VERSIONS else KRUISE_API_VERSIONS[0]
    return _PATHS[kind].format(ns=namespace, name=name(obj), api=api)


def _kruise_driver(snapshot: Snapshot, kind: str, obj: Obj) -> Obj | None:
    """The OpenKruise Rollout that releases this Deployment/StatefulSet, if any."""
    if kind not in ("Deployment", "StatefulSet"):
        return None
    return next((r for r in snapshot.kruise_rollouts if ro.workload_ref(r) == (kind, name(obj))), None)


def _released(snapshot: Snapshot, rollout: Obj) -> tuple[str, Obj]:
    """The Deployment/StatefulSet an OpenKruise Rollout releases (its spec.workloadRef)."""
    found = ro.workload_ref(rollout)
    where = f"Rollout/{name(rollout)} in namespace {snapshot.namespace}"
    if found is None:
        raise ActionRefused(
            f"{where} releases no apps/v1 Deployment or StatefulSet (CloneSets and other Kruise workloads "
            f"are not supported): act on its workload with kubectl"
        )
    pool = {"Deployment": snapshot.deployments, "StatefulSet": snapshot.statefulsets}.get(found[0], ())
    workload = next((o for o in pool if name(o) == found[1]), None)
    if workload is None:
        raise ActionRefused(
            f"{where} releases {found[0]}/{found[1]}, which is not in this environment "
            f"(selector {snapshot.selector or 'none'}): it may be gone, or outside the selector"
        )
    return found[0], workload


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
        _obj_path(kind, namespace, obj) + subresource,
        body=_guarded(obj, ops) if not subresource else list(ops),
        content_type=JSON_PATCH,
        what=f"patch {plural}{subresource} in namespace {namespace}",
    )


def _status_patch(
    namespace: str, obj: Obj, body: dict[str, Any], *, kind: str = "Rollout@argo", guard: bool = False
) -> Operation:
    """Argo keeps pause and abort in status, Kruise the batch approval: a merge patch of the status
    subresource; guarded, it carries the snapshot's resourceVersion (409 if the object moved)."""
    if guard:
        body = {
            "metadata": {"resourceVersion": str(get(obj, "metadata", "resourceVersion", default=""))},
            **body,
        }
    return Operation(
        "PATCH",
        _obj_path(kind, namespace, obj) + "/status",
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
    if kind == "StatefulSet":
        raise ActionRefused(
            f"a StatefulSet has no pause: {where} holds back pods with spec.updateStrategy.rollingUpdate"
            ".partition, which deploybot does not change"
        )
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
    if kind == "StatefulSet":
        raise ActionRefused(
            f"a StatefulSet has no pause to resume: {where} releases its next pods when its "
            "spec.updateStrategy.rollingUpdate.partition is lowered, which deploybot does not change"
        )
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
    note = _closed_note(request, now)
    if kind == "Rollout@argo":
        ops = [_patch(kind, env.namespace, obj, _annotation_ops(obj, note))]
        ops.append(_status_patch(env.namespace, obj, {"status": {"abort": True}}))
        return _new(request, env, kind, obj, f"abort and close the release order of {where}", ops)
    if kind != "Deployment":
        raise ActionRefused(
            f"close_order works on Deployments and Argo and OpenKruise Rollouts, not {where} "
            "(a StatefulSet has no pause to close it with)"
        )
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


def _closed_note(request: ActionRequest, now: datetime) -> dict[str, str | None]:
    reason = request.params.get("reason", "closed from deploybot")
    return {ro.CLOSED_BY: request.actor, ro.CLOSED_AT: _stamp(now), ro.CLOSED_REASON: reason}


@dataclass(frozen=True)
class _Revision:
    """What a rollback goes back to: the template of the revision before the current one."""

    current: int
    previous: int
    template: Obj
    images: str


def _strip_label(template: Obj, key: str) -> dict[str, Any]:
    """A pod template without the hash label its controller adds (it would not match a new set)."""
    copy = dict(template)
    meta = dict(copy.get("metadata") or {})
    meta["labels"] = {k: v for k, v in labels({"metadata": meta}).items() if k != key}
    copy["metadata"] = meta
    return copy


def _previous_revision(snapshot: Snapshot, kind: str, obj: Obj, where: str) -> _Revision:
    """The revision before the current one and its template; refused on the first revision."""
    if kind == "Deployment":
        current = ro.as_int(ro.annotation(obj, ro.DEPLOY_REVISION))
        sets = ro.owned_sets(snapshot.replicasets, "Deployment", name(obj), ro.DEPLOY_REVISION)
        strip = "pod-template-hash"
    elif kind == "Rollout@argo":
        sets = ro.owned_sets(snapshot.replicasets, "Rollout", name(obj), ro.ARGO_REVISION)
        pod_hash = ro.text(obj, "status", "currentPodHash")
        current = next((n for n, rs in sets if pod_hash and ro.label(rs, ro.ARGO_HASH) == pod_hash), -1)
        current = current if current > 0 else max((n for n, _ in sets), default=0)
        strip = ro.ARGO_HASH
    else:  # StatefulSet: its ControllerRevisions
        if "controllerrevisions" in snapshot.unavailable:
            raise ActionRefused(
                f"cannot roll back {where}: its revisions could not be read "
                f"({snapshot.unavailable['controllerrevisions']})"
            )
        revisions = ro.controller_revisions(snapshot.controllerrevisions, name(obj))
        update = ro.text(obj, "status", "updateRevision")
        current = next((n for n, cr in revisions if name(cr) == update), -1)
        if current < 0:
            raise ActionRefused(
                f"cannot roll back {where}: its update revision {update or '(none yet)'} is not among "
                "its ControllerRevisions"
            )
        older = [(n, cr) for n, cr in revisions if 0 < n < current]
        template = ro.revision_template(older[0][1]) if older else None
        if not older or template is None:
            raise ActionRefused(
                f"{where} is at its first revision ({current}): no earlier revision to roll back to"
            )
        previous_images = ro.images({"spec": {"template": template}}) or "?"
        return _Revision(current, older[0][0], _strip_label(template, ro.STS_HASH), previous_images)
    older = [(n, rs) for n, rs in sets if 0 < n < current]
    if not older:
        raise ActionRefused(f"{where} is at revision {current or 1}: no earlier revision to roll back to")
    revision, previous = older[0]
    template = _strip_label(get(previous, "spec", "template", default={}), strip)
    return _Revision(current, revision, template, ro.images(previous) or "?")


def _rollback(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if kind == "Rollout@argo" and ro.workload_ref(obj) and not get(obj, "spec", "template"):
        workload_kind, workload = _argo_workload(snapshot, obj, where)
        revision = _previous_revision(snapshot, kind, obj, where)
        replace_template = [{"op": "replace", "path": "/spec/template", "value": revision.template}]
        description = (
            f"roll back {where} from revision {revision.current} to revision {revision.previous} "
            f"({revision.images}): the template of {_ref(workload_kind, workload)}, which it takes it from"
        )
        patch = _patch(workload_kind, env.namespace, workload, replace_template)
        return _new(request, env, kind, obj, description, [patch])
    revision = _previous_revision(snapshot, kind, obj, where)
    ops: list[dict[str, Any]] = [{"op": "replace", "path": "/spec/template", "value": revision.template}]
    if kind == "Deployment":
        ops.append({"op": "add", "path": "/spec/paused", "value": False})
    if kind != "StatefulSet":
        ops += _annotation_ops(obj, {ro.CLOSED_BY: None, ro.CLOSED_AT: None, ro.CLOSED_REASON: None})
    description = (
        f"roll back {where} from revision {revision.current} ({ro.images(obj)}) "
        f"to revision {revision.previous} ({revision.images})"
    )
    return _new(request, env, kind, obj, description, [_patch(kind, env.namespace, obj, ops)])


def _argo_workload(snapshot: Snapshot, rollout: Obj, where: str) -> tuple[str, Obj]:
    found = ro.workload_ref(rollout)
    pool = snapshot.deployments if found and found[0] == "Deployment" else ()
    workload = next((d for d in pool if found and name(d) == found[1]), None)
    if found is None or workload is None:
        raise ActionRefused(f"{where} takes its template from a workload that is not in this environment")
    return found[0], workload


def _retry(
    request: ActionRequest, env: Environment, snapshot: Snapshot, kind: str, obj: Obj, now: datetime
) -> Plan:
    where = f"{_ref(kind, obj)} in namespace {env.namespace}"
    if kind == "Rollout@argo":
        if get(obj, "status", "abort") is not True:
            raise ActionRefused(f"{where} is not aborted: nothing to retry")
        if ro.annotation(obj, ro.CLOSED_BY):
            raise ActionRefused(
                f"the release order of {where} is closed ({ro.closed_note(obj)}); start a new release"
            )
        ops = [_status_patch(env.namespace, obj, {"status": {"abort": False}}, guard=True)]
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
    replicas = ro.desired(obj)
    return _new(
        request,
        env,
        kind,
        obj,
        f"restart {where}: replace its {replicas} pod(s) one batch at a time",
        [_patch(kind, env.namespace, obj, _restart_ops(obj, now))],
    )


def _restart_ops(obj: Obj, now: datetime) -> list[dict[str, Any]]:
    """What `kubectl rollout restart` does: stamp the pod template, so every pod is replaced."""
    patch: list[dict[str, Any]] = []
    if get(obj, "spec", "template", "metadata") is None:
        patch.append({"op": "add", "path": "/spec/template/metadata", "value": {}})
    if get(obj, "spec", "template", "metadata", "annotations") is None:
        patch.append({"op": "add", "path": "/spec/template/metadata/annotations", "value": {}})
    patch.append(
        {
            "op": "add",
            "path": f"/spec/template/metadata/annotations/{_escape(RESTARTED_AT)}",
            "value": _stamp(now),
        }
    )
    return patch


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
    if ro.annotation(obj, RESTORED):
        note[RESTORED] = None  # a new scale: the earlier restore no longer says anything
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
            _obj_path(kind, namespace, obj) + "/scale",
            body={"metadata": {"resourceVersion": version}, "spec": {"replicas": replicas}},
            content_type=MERGE_PATCH,
            what=f"patch {plural}/scale in namespace {namespace}",
        )
    ]
    if note:
        ops.append(
            Operation(
                "PATCH",
                _obj_path(kind, namespace, obj),
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
    if kind not in ("Deployment", "StatefulSet"):
        raise ActionRefused(f"restore works on Deployments and StatefulSets, not {where}")
    remembered = ro.annotation(obj, PREVIOUS_REPLICAS)
    if not remembered.isdigit():
        if restored := ro.annotation(obj, RESTORED):
            raise ActionRefused(
                f"{where} was already restored by {restored}; it has {ro.desired(obj)} replicas now"
            )
        raise ActionRefused(f"{where} was not scaled to 0 by deploybot: no replica count to restore")
    if ro.desired(obj) != 0:
        raise ActionRefused(
            f"{where} has {ro.desired(obj)} replicas, not 0: restore only undoes a scale to 0 "
            f"(it would set {remembered}); use scale --replicas N instead"
        )
    description = (
        f"restore {where} from {ro.desired(obj)} to {remembered} replicas in namespace {env.namespace}"
    )
    note = {PREVIOUS_REPLICAS: None, RESTORED: f"{request.actor} at {_stamp(now)}"}
    ops = _scale_ops(kind, env.namespace, obj, int(remembered), note)
    return _new(request, env, kind, obj, description, ops)


# ---------------------------------------------------------------- OpenKruise Rollouts
#
# The Rollout holds the release (batches, pause, approval, disabled); the Deployment or StatefulSet
# it releases (spec.workloadRef) holds the template and the pods. Order actions patch the Rollout;
# rollback, restart, retry and scale act on the workload. Plans are named after the Rollout and
# carry its fingerprint, so a button made for batch 1 is stale once batch 2 is reached.

_KRUISE = "Rollout@kruise"


def _kruise_where(env: Environment, rollout: Obj) -> str:
    return f"{_ref(_KRUISE, rollout)} in namespace {env.namespace}"


def _kruise_closed(rollout: Obj) -> str:
    """Why the order is closed ("" when it is not): deploybot's note, or spec.disabled set elsewhere."""
    if note := ro.closed_note(rollout):
        return note
    return "spec.disabled is true" if get(rollout, "spec", "disabled") is True else ""


def _kruise_paused_op(env: Environment, rollout: Obj, paused: bool) -> Operation:
    ops: list[dict[str, Any]] = []
    if get(rollout, "spec", "strategy") is None:
        ops.append({"op": "add", "path": "/spec/strategy", "value": {}})
    ops.append({"op": "add", "path": "/spec/strategy/paused", "value": paused})
    return _patch(_KRUISE, env.namespace, rollout, ops)


def _kruise_pause(
    request: ActionRequest, env: Environment, snapshot: Snapshot, rollout: Obj, now: datetime
) -> Plan:
    where = _kruise_where(env, rollout)
    if closed := _kruise_closed(rollout):
        raise ActionRefused(f"the release order of {where} is closed ({closed}): nothing to pause")
    if get(rollout, "spec", "strategy", "paused") is True:
        raise ActionRefused(f"{where} is already paused (spec.strategy.paused)")
    if ro.kruise_step_state(rollout) == "Completed" or ro.text(rollout, "status", "phase") == "Healthy":
        raise ActionRefused(f"{where} has no release in progress: nothing to pause")
    batch, batches = ro.kruise_batch(rollout)
    description = f"pause the release order of {where} at batch {batch}/{batches} (spec.strategy.paused)"
    return _new(request, env, _KRUISE, rollout, description, [_kruise_paused_op(env, rollout, True)])


def _kruise_resume(
    request: ActionRequest, env: Environment, snapshot: Snapshot, rollout: Obj, now: datetime
) -> Plan:
    """Unpause (spec.strategy.paused), else approve the batch waiting in StepPaused. Paused and
    waiting both: the unpause comes first, the approval is a second resume (each write is guarded
    by the snapshot's resourceVersion, so one plan writes once)."""
    where = _kruise_where(env, rollout)
    if closed := _kruise_closed(rollout):
        raise ActionRefused(f"the release order of {where} is closed ({closed}); start a new release")
    batch, batches = ro.kruise_batch(rollout)
    step_state = ro.kruise_step_state(rollout)
    if get(rollout, "spec", "strategy", "paused") is True:
        description = f"unpause the release order of {where} (spec.strategy.paused: false)"
        if step_state == "StepPaused":
            description += f"; batch {batch}/{batches} then still waits for approval: resume again"
        return _new(request, env, _KRUISE, rollout, description, [_kruise_paused_op(env, rollout, False)])
    if step_state != "StepPaused":
        state = step_state or ro.text(rollout, "status", "phase") or "not started"
        raise ActionRefused(
            f"{where} is not waiting for approval (batch {batch}/{batches}: {state}): nothing to resume"
        )
    body = {"status": {ro.kruise_progress_key(rollout): {"currentStepState": "StepReady"}}}
    ops = [_status_patch(env.namespace, rollout, body, kind=_KRUISE, guard=True)]
    description = f"approve batch {batch}/{batches} of {where} so the release goes on to the next batch"
    return _new(request, env, _KRUISE, rollout, description, ops)


def _kruise_close(
    request: ActionRequest, env: Environment, snapshot: Snapshot, rollout: Obj, now: datetime
) -> Plan:
    where = _kruise_where(env, rollout)
    if closed := _kruise_closed(rollout):
        raise ActionRefused(f"the release order of {where} is already closed ({closed})")
    ops = [*_annotation_ops(rollout, _closed_note(request, now))]
    ops.append({"op": "add", "path": "/spec/disabled", "value": True})
    description = (
        f"close the release order of {where}: disable the Rollout (spec.disabled) and mark it closed"
    )
    return _new(request, env, _KRUISE, rollout, description, [_patch(_KRUISE, env.namespace, rollout, ops)])


_WorkloadPlanner = Callable[[ActionRequest, Environment, Snapshot, str, Obj, datetime], Plan]
_KruisePlanner = Callable[[ActionRequest, Environment, Snapshot, Obj, datetime], Plan]


def _on_workload(planner: _WorkloadPlanner, how: str) -> _KruisePlanner:
    """An action on the workload a Kruise Rollout releases, named after (and fingerprinted by) the Rollout."""

    def plan_it(
        request: ActionRequest, env: Environment, snapshot: Snapshot, rollout: Obj, now: datetime
    ) -> Plan:
        kind, workload = _released(snapshot, rollout)
        inner = planner(request, env, snapshot, kind, workload, now)
        description = f"{inner.description} ({how} Rollout/{name(rollout)})"
        return replace(
            inner,
            target=_ref(_KRUISE, rollout),
            description=description,
            fingerprint=fingerprint(rollout),
            involved=_involved(_KRUISE, rollout),
        )

    return plan_it


def _kruise_rollback(
    request: ActionRequest, env: Environment, snapshot: Snapshot, rollout: Obj, now: datetime
) -> Plan:
    """Revert the workload's template; the Rollout sees the template go back to its stable revision.
    The workload's spec.paused is the Rollout's to manage: left as it is."""
    where = _kruise_where(env, rollout)
    kind, workload = _released(snapshot, rollout)
    workload_where = f"{_ref(kind, workload)} in namespace {env.namespace}"
    revision = _previous_revision(snapshot, kind, workload, workload_where)
    ops = [{"op": "replace", "path": "/spec/template", "value": revision.template}]
    description = (
        f"roll back {where}: {_ref(kind, workload)} from revision {revision.current} ({ro.images(workload)}) "
        f"to revision {revision.previous} ({revision.images})"
    )
    return _new(request, env, _KRUISE, rollout, description, [_patch(kind, env.namespace, workload, ops)])


def _kruise_retry(
    request: ActionRequest, env: Environment, snapshot: Snapshot, rollout: Obj, now: datetime
) -> Plan:
    """The Rollout API has no retry: the failed pods of the current batch (the workload's new
    revision) are deleted, and the workload's controller creates them again."""
    where = _kruise_where(env, rollout)
    kind, workload = _released(snapshot, rollout)
    batch, batches = ro.kruise_batch(rollout)
    failed = [p for p in _batch_pods(snapshot, kind, workload) if _failing(p)][:MAX_RETRY_PODS]
    if not failed:
        raise ActionRefused(f"batch {batch}/{batches} of {where} has no failed instances to retry")
    names = ", ".join(name(p) for p in failed)
    description = (
        f"recreate {len(failed)} failed pod(s) of batch {batch}/{batches} of {where}: {names} "
        f"(the Rollout API has no retry: {_ref(kind, workload)} recreates the deleted pods)"
    )
    ops = [_delete_pod_op(env.namespace, p) for p in failed]
    return _new(request, env, _KRUISE, rollout, description, ops)


def _batch_pods(snapshot: Snapshot, kind: str, workload: Obj) -> list[Obj]:
    """Pods of the workload's newest revision: the batches a Kruise Rollout has released so far."""
    if kind == "Deployment":
        revision = ro.annotation(workload, ro.DEPLOY_REVISION)
        sets = {
            name(rs)
            for rs in snapshot.replicasets
            if owner(rs, "Deployment") == name(workload) and ro.annotation(rs, ro.DEPLOY_REVISION) == revision
        }
        return [p for p in snapshot.pods if owner(p, "ReplicaSet") in sets]
    update = ro.text(workload, "status", "updateRevision")
    return [
        p for p in snapshot.pods if owner(p, kind) == name(workload) and ro.label(p, ro.STS_HASH) == update
    ]


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
_KRUISE_PLANNERS: dict[str, _KruisePlanner] = {
    "pause_order": _kruise_pause,
    "resume_order": _kruise_resume,
    "close_order": _kruise_close,
    "rollback_order": _kruise_rollback,
    "retry_failed": _kruise_retry,
    "restart": _on_workload(_restart, "a new template: released in batches by"),
    "scale": _on_workload(_scale, "the workload released by"),
    "restore": _on_workload(_restore, "the workload released by"),
    "events": _on_workload(_workload_events, "the workload released by"),
}
