"""Release orders (发布单) read from what the cluster says about a rollout.

A release order is one rollout of a workload to a new version: a Deployment revision, a
StatefulSet update revision, an Argo `Rollout` or an OpenKruise `Rollout` in progress.
Pure: objects in, `ReleaseOrder`s out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain._rollouts import (
    ARGO_HASH,
    ARGO_REVISION,
    DEPLOY_REVISION,
    State,
    annotation,
    argo_batch,
    argo_changed_at,
    argo_state,
    as_int,
    condition,
    condition_time,
    controller_revisions,
    count,
    created,
    deployment_batch,
    deployment_state,
    desired,
    images,
    kruise_batch,
    kruise_canary,
    kruise_progress,
    kruise_state,
    label,
    owned_sets,
    pod_times,
    revision_template,
    statefulset_batch,
    statefulset_state,
    text,
    when,
    workload_ref,
)
from bot.domain.snapshot import Obj, Snapshot, get, name, ref

#: Release-order states, as PRODUCT.md names them.
STATES = ("deploying", "paused", "completed", "failed", "closed")


@dataclass(frozen=True)
class ReleaseOrder:
    #: Deployment | StatefulSet | Rollout (argo) | Rollout (kruise): see `source`
    kind: str
    #: argo | kruise | apps (Deployment/StatefulSet)
    source: str
    #: the object the order lives on (what actions patch): "Deployment/shop-web"
    target: str
    #: the revision this order rolls out (Deployment revision annotation, StatefulSet
    #: updateRevision, Argo currentPodHash, Kruise workload revision)
    revision: str
    state: str
    #: 1-based batch being rolled out and the number of batches (1 of 1 without batches)
    batch: int
    batches: int
    old_version: str | None
    new_version: str | None
    desired: int
    updated: int
    ready: int
    available: int
    started_at: datetime | None
    changed_at: datetime | None
    #: why it is in this state, in the cluster's words ("ProgressDeadlineExceeded: ...")
    reason: str
    #: resourceVersion of the target when read: actions are refused if it changed since
    resource_version: str
    #: True for the current order of its workload, False for history
    current: bool = True


#: history orders kept per workload, newest first
HISTORY = 5
#: current orders are listed most urgent first
URGENCY = {"failed": 0, "paused": 1, "deploying": 2, "closed": 3, "completed": 4}

_Group = tuple[ReleaseOrder, tuple[ReleaseOrder, ...]]


@dataclass(frozen=True)
class _Facts:
    """What a workload says about the revision it rolls out (shared by its Rollout, if any)."""

    revision: str
    old_version: str | None
    new_version: str | None
    started_at: datetime | None
    changed_at: datetime | None
    #: desired, updated, ready, available replicas
    counts: tuple[int, int, int, int]
    #: owned ReplicaSets with their revision number, newest first; index of the current one (-1: none)
    sets: tuple[tuple[int, Obj], ...] = ()
    current: int = -1


def release_orders(snapshot: Snapshot) -> tuple[ReleaseOrder, ...]:
    """Every workload's current order (most urgent first), then each one's recent history.

    A Deployment or StatefulSet driven by an Argo or Kruise Rollout (workloadRef) is reported once,
    as the Rollout's order.
    """
    managed = {
        found for ro in (*snapshot.argo_rollouts, *snapshot.kruise_rollouts) if (found := workload_ref(ro))
    }
    groups: list[_Group] = []
    groups += [
        _deployment(snapshot, d) for d in snapshot.deployments if ("Deployment", name(d)) not in managed
    ]
    groups += [
        _statefulset(snapshot, s) for s in snapshot.statefulsets if ("StatefulSet", name(s)) not in managed
    ]
    groups += [_argo(snapshot, ro) for ro in snapshot.argo_rollouts]
    groups += [_kruise(snapshot, ro) for ro in snapshot.kruise_rollouts]
    groups.sort(
        key=lambda group: (URGENCY.get(group[0].state, len(URGENCY)), group[0].target, group[0].source)
    )
    return tuple(order for order, _ in groups) + tuple(old for _, history in groups for old in history)


def _counts(obj: Obj) -> tuple[int, int, int, int]:
    return (
        desired(obj),
        count(obj, "status", "updatedReplicas"),
        count(obj, "status", "readyReplicas"),
        count(obj, "status", "availableReplicas"),
    )


def _deployment_facts(snapshot: Snapshot, dep: Obj) -> _Facts:
    revision = annotation(dep, DEPLOY_REVISION)
    number = as_int(revision, -1)
    sets = owned_sets(snapshot.replicasets, "Deployment", name(dep), DEPLOY_REVISION)
    current = next((i for i, (n, _) in enumerate(sets) if n == number >= 0), -1)
    previous = next((rs for n, rs in sets if 0 <= n < number), None)
    return _Facts(
        revision=revision,
        old_version=images(previous),
        new_version=images(dep),
        started_at=created(sets[current][1]) if current >= 0 else created(dep),
        changed_at=condition_time(condition(dep, "Progressing")),
        sets=tuple(sets),
        current=current,
        counts=_counts(dep),
    )


def _statefulset_facts(snapshot: Snapshot, sts: Obj) -> _Facts:
    """Versions are the images of the ControllerRevisions (the revision names when those could not be
    read); times come from the pods, else from when the update revision was created."""
    update, current = text(sts, "status", "updateRevision"), text(sts, "status", "currentRevision")
    started_at, changed_at = pod_times(snapshot.pods, "StatefulSet", name(sts), update)
    revisions = controller_revisions(snapshot.controllerrevisions, name(sts))
    by_name = {name(cr): (number, cr) for number, cr in revisions}
    old_version: str | None = current if current and current != update else None
    if current and current != update and current in by_name:
        old_version = _revision_images(by_name[current][1]) or old_version
    elif update in by_name:  # rolled out: the version before is the previous revision's
        number = by_name[update][0]
        previous = next((cr for n, cr in revisions if 0 <= n < number), None)
        old_version = _revision_images(previous) if previous is not None else None
    if started_at is None and update in by_name:
        started_at = created(by_name[update][1])
    return _Facts(
        revision=update,
        old_version=old_version,
        new_version=images(sts),
        started_at=started_at,
        changed_at=changed_at,
        counts=_counts(sts),
    )


def _revision_images(revision: Obj) -> str | None:
    template = revision_template(revision)
    return images({"spec": {"template": template}}) if template is not None else None


def _order(
    kind: str, source: str, obj: Obj, facts: _Facts, state: State, batch: tuple[int, int]
) -> ReleaseOrder:
    return ReleaseOrder(
        kind=kind,
        source=source,
        target=ref(kind, name(obj)),
        revision=facts.revision,
        state=state[0],
        batch=batch[0],
        batches=batch[1],
        old_version=facts.old_version,
        new_version=facts.new_version,
        desired=facts.counts[0],
        updated=facts.counts[1],
        ready=facts.counts[2],
        available=facts.counts[3],
        started_at=facts.started_at,
        changed_at=facts.changed_at,
        reason=state[1],
        resource_version=text(obj, "metadata", "resourceVersion"),
    )


def _history(
    order: ReleaseOrder, facts: _Facts, revision_of: Callable[[int, Obj], str]
) -> tuple[ReleaseOrder, ...]:
    """The ReplicaSets other than the current one, newest first: superseded, so completed."""
    history: list[ReleaseOrder] = []
    for i, (number, rs) in enumerate(facts.sets):
        if i == facts.current:
            continue
        newer = facts.sets[i - 1] if i > 0 else None
        older = facts.sets[i + 1][1] if i + 1 < len(facts.sets) else None
        history.append(
            replace(
                order,
                revision=revision_of(number, rs),
                state="completed",
                batch=1,
                batches=1,
                old_version=images(older),
                new_version=images(rs),
                desired=count(rs, "spec", "replicas"),
                updated=count(rs, "status", "replicas"),
                ready=count(rs, "status", "readyReplicas"),
                available=count(rs, "status", "availableReplicas"),
                started_at=created(rs),
                changed_at=created(newer[1]) if newer else None,
                reason=f"superseded by revision {newer[0]}" if newer and newer[0] >= 0 else "superseded",
                current=False,
            )
        )
        if len(history) == HISTORY:
            break
    return tuple(history)


def _deploy_revision(number: int, rs: Obj) -> str:
    return annotation(rs, DEPLOY_REVISION)


def _deployment(snapshot: Snapshot, dep: Obj) -> _Group:
    facts = _deployment_facts(snapshot, dep)
    order = _order("Deployment", "apps", dep, facts, deployment_state(dep), deployment_batch(dep))
    return order, _history(order, facts, _deploy_revision)


def _statefulset(snapshot: Snapshot, sts: Obj) -> _Group:
    facts = _statefulset_facts(snapshot, sts)
    return _order("StatefulSet", "apps", sts, facts, statefulset_state(sts), statefulset_batch(sts)), ()


def _workload(snapshot: Snapshot, rollout: Obj) -> tuple[str, Obj | None]:
    """The apps/v1 workload a Rollout drives, when the snapshot has it."""
    found = workload_ref(rollout)
    if found is None:
        return "", None
    pool = {"Deployment": snapshot.deployments, "StatefulSet": snapshot.statefulsets}.get(found[0], ())
    return found[0], next((obj for obj in pool if name(obj) == found[1]), None)


def _argo(snapshot: Snapshot, rollout: Obj) -> _Group:
    pod_hash, stable = text(rollout, "status", "currentPodHash"), text(rollout, "status", "stableRS")
    sets = owned_sets(snapshot.replicasets, "Rollout", name(rollout), ARGO_REVISION)
    current = next((i for i, (_, rs) in enumerate(sets) if pod_hash and label(rs, ARGO_HASH) == pod_hash), -1)
    old_version: str | None
    if stable and stable != pod_hash:
        stable_rs = next((rs for _, rs in sets if label(rs, ARGO_HASH) == stable), None) or next(
            (rs for rs in snapshot.replicasets if label(rs, ARGO_HASH) == stable), None
        )
        old_version = images(stable_rs) or stable
    else:  # fully promoted: the version before is the previous revision's
        number = sets[current][0] if current >= 0 else -1
        old_version = images(next((rs for n, rs in sets if 0 <= n < number), None))
    _, workload = _workload(snapshot, rollout)
    facts = _Facts(
        revision=pod_hash,
        old_version=old_version,
        new_version=images(rollout) or images(workload),
        started_at=created(sets[current][1]) if current >= 0 else created(rollout),
        changed_at=argo_changed_at(rollout),
        sets=tuple(sets),
        current=current,
        counts=_counts(rollout),
    )
    order = _order("Rollout", "argo", rollout, facts, argo_state(rollout), argo_batch(rollout))
    return order, _history(order, facts, lambda number, rs: label(rs, ARGO_HASH) or str(number))


def _kruise(snapshot: Snapshot, rollout: Obj) -> _Group:
    kind, workload = _workload(snapshot, rollout)
    facts: _Facts | None = None
    if workload is not None:
        facts = (_deployment_facts if kind == "Deployment" else _statefulset_facts)(snapshot, workload)
    progress = kruise_progress(rollout)
    pods, ready = kruise_canary(rollout)
    revision = (facts.revision if facts else "") or next(
        (
            found
            for key in ("canaryRevision", "updatedRevision", "podTemplateHash")
            if (found := text(progress, key))
        ),
        "",
    )
    base = facts or _Facts(revision, None, None, created(rollout), None, (0, pods, ready, ready))
    facts = replace(
        base,
        revision=revision,
        changed_at=when(get(progress, "lastUpdateTime"))
        or condition_time(condition(rollout, "Progressing"))
        or base.changed_at,
    )
    state = kruise_state(rollout, snapshot.taken_at, facts.counts[0] if workload is not None else None)
    order = _order("Rollout", "kruise", rollout, facts, state, kruise_batch(rollout))
    return order, _history(order, facts, _deploy_revision)
