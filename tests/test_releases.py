"""Release orders (发布单) read from Deployments, StatefulSets, Argo and OpenKruise Rollouts.

Fixtures are built the way `kubectl get -o json` prints the objects: camelCase, ownerReferences,
zero counts omitted from status, conditions with lastUpdateTime/lastTransitionTime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain.releases import STATES, ReleaseOrder, release_orders
from bot.domain.snapshot import Snapshot
from tests import k8s_objects as k8s

NOW = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
REGISTRY = "registry.cn-hangzhou.aliyuncs.com/shop"
CLOSED = {
    "deploybot.io/closed-by": "U012ABCDEF",
    "deploybot.io/closed-at": "2026-11-21T10:20:00Z",
    "deploybot.io/closed-reason": "checkout errors after v1.4.3",
}
CLOSED_NOTE = "closed by U012ABCDEF at 2026-11-21T10:20:00Z: checkout errors after v1.4.3"
Obj = dict[str, Any]


# --- fixture builders --------------------------------------------------------------------------


def stamp(minutes_ago: int) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(minutes_ago: int) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def image(name: str, tag: str) -> str:
    return f"{REGISTRY}/{name}:{tag}"


def meta(
    name: str,
    *,
    rv: str = "48213377",
    generation: int | None = None,
    created: int = 600,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
) -> Obj:
    found: Obj = {
        "name": name,
        "namespace": "shop",
        "uid": f"5e0c{sum(map(ord, name)):04x}-4a1b-4c2d-9e3f-0a1b2c3d4e5f",
        "resourceVersion": rv,
        "creationTimestamp": stamp(created),
        "labels": labels or {"app": name.split("-")[0]},
    }
    if generation is not None:
        found["generation"] = generation
    if annotations:
        found["annotations"] = annotations
    if owner:
        api, kind, owner_name = owner
        found["ownerReferences"] = [
            {
                "apiVersion": api,
                "kind": kind,
                "name": owner_name,
                "uid": "9b1d2c3e-0000-4f00-8a00-1234567890ab",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return found


def template(*images: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "metadata": {"labels": labels or {"app": "shop"}},
        "spec": {
            "containers": [
                {
                    "name": img.rsplit("/", 1)[-1].split(":")[0],
                    "image": img,
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}},
                }
                for img in images
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }


def counts(**values: int) -> Obj:
    """Status counts as the API prints them: zero values are omitted."""
    return {key: value for key, value in values.items() if value}


def cond(kind: str, status: str, reason: str, message: str, *, updated: int = 3, moved: int = 15) -> Obj:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp(updated),
        "lastTransitionTime": stamp(moved),
        "reason": reason,
        "message": message,
    }


def deployment(
    name: str = "shop-web",
    *,
    revision: int | None = 3,
    images: tuple[str, ...] = (image("web", "v1.4.3"),),
    replicas: int = 4,
    generation: int = 7,
    observed: int | None = 7,
    updated: int = 4,
    ready: int = 4,
    available: int = 4,
    total: int | None = None,
    paused: bool = False,
    progressing: tuple[str, str, str] = (
        "True",
        "NewReplicaSetAvailable",
        'ReplicaSet "shop-web-6b8f7c9d5" has successfully progressed.',
    ),
    annotations: dict[str, str] | None = None,
    with_status: bool = True,
) -> Obj:
    notes = {"deployment.kubernetes.io/revision": str(revision)} if revision is not None else {}
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "shop"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "template": template(*images),
    }
    if paused:
        spec["paused"] = True
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, generation=generation, annotations={**notes, **(annotations or {})}),
        "spec": spec,
    }
    if with_status:
        obj["status"] = {
            **counts(
                observedGeneration=observed or 0,
                replicas=replicas if total is None else total,
                updatedReplicas=updated,
                readyReplicas=ready,
                availableReplicas=available,
                unavailableReplicas=max(0, replicas - available),
            ),
            "conditions": [
                cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                cond("Progressing", *progressing),
            ],
        }
    return obj


def replicaset(
    owner_name: str,
    revision: int,
    img: str,
    *,
    pod_hash: str,
    created: int,
    replicas: int = 0,
    owner_kind: str = "Deployment",
) -> Obj:
    argo = owner_kind == "Rollout"
    hash_label = "rollouts-pod-template-hash" if argo else "pod-template-hash"
    revision_key = "rollout.argoproj.io/revision" if argo else "deployment.kubernetes.io/revision"
    labels = {"app": "shop", hash_label: pod_hash}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta(
            f"{owner_name}-{pod_hash}",
            generation=2,
            created=created,
            labels=labels,
            annotations={
                "deployment.kubernetes.io/desired-replicas": "4",
                "deployment.kubernetes.io/max-replicas": "5",
                revision_key: str(revision),
            },
            owner=("argoproj.io/v1alpha1" if argo else "apps/v1", owner_kind, owner_name),
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": template(img, labels=labels),
        },
        "status": counts(
            replicas=replicas,
            fullyLabeledReplicas=replicas,
            readyReplicas=replicas,
            availableReplicas=replicas,
            observedGeneration=2,
        ),
    }


def statefulset(
    name: str = "shop-db",
    *,
    replicas: int = 3,
    partition: int | None = None,
    strategy: str = "RollingUpdate",
    current: str = "shop-db-5c7b9d8f4",
    update: str = "shop-db-5c7b9d8f4",
    updated: int = 3,
    ready: int = 3,
    generation: int = 4,
    observed: int = 4,
    annotations: dict[str, str] | None = None,
) -> Obj:
    update_strategy: Obj = {"type": strategy}
    if partition is not None:
        update_strategy["rollingUpdate"] = {"partition": partition}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name, generation=generation, annotations=annotations),
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": {"app": "shop"}},
            "updateStrategy": update_strategy,
            "template": template(image("mysql", "8.0.36")),
        },
        "status": {
            **counts(
                observedGeneration=observed,
                replicas=replicas,
                readyReplicas=ready,
                availableReplicas=ready,
                currentReplicas=replicas - updated if current != update else replicas,
                updatedReplicas=updated,
            ),
            "currentRevision": current,
            "updateRevision": update,
            "collisionCount": 0,
        },
    }


def pod(name: str, owner_kind: str, owner_name: str, revision: str, created: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            name,
            created=created,
            labels={"app": "shop", "controller-revision-hash": revision},
            owner=("apps/v1", owner_kind, owner_name),
        ),
        "spec": {"containers": [{"name": "mysql", "image": image("mysql", "8.0.36")}]},
        "status": {"phase": "Running"},
    }


ARGO_STEPS: list[Obj] = [
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 40},
    {"pause": {"duration": "10m"}},
    {"setWeight": 80},
    {"pause": {"duration": "10m"}},
]


def argo_rollout(
    name: str = "shop-api",
    *,
    steps: list[Obj] | None = None,
    step_index: int | None = 6,
    phase: str = "Healthy",
    pod_hash: str = "84c7b6f9d",
    stable: str = "84c7b6f9d",
    paused: bool = False,
    pauses: tuple[str, ...] = (),
    abort: bool = False,
    message: str = "",
    replicas: int = 5,
    updated: int = 5,
    ready: int = 5,
    annotations: dict[str, str] | None = None,
    workload: str | None = None,
) -> Obj:
    spec: Obj = {
        "replicas": replicas,
        "revisionHistoryLimit": 3,
        "selector": {"matchLabels": {"app": "shop"}},
        "strategy": {
            "canary": {"canaryService": f"{name}-canary", "steps": ARGO_STEPS if steps is None else steps}
        },
    }
    if workload:
        spec["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload}
    else:
        spec["template"] = template(image("api", "v2.2.0"))
    if paused:
        spec["paused"] = True
    status: Obj = {
        **counts(
            HPAReplicas=replicas,
            replicas=replicas,
            updatedReplicas=updated,
            readyReplicas=ready,
            availableReplicas=ready,
        ),
        "blueGreen": {},
        "canary": {},
        "conditions": [
            cond(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}-{pod_hash}" is progressing.'
            ),
            cond("Available", "True", "AvailableReason", "Rollout has minimum availability"),
        ],
        "currentPodHash": pod_hash,
        "currentStepHash": "5f8d9c7b6",
        "observedGeneration": "12",
        "phase": phase,
        "selector": "app=shop",
        "stableRS": stable,
    }
    if step_index is not None:
        status["currentStepIndex"] = step_index
    if message:
        status["message"] = message
    if pauses:
        status["pauseConditions"] = [{"reason": reason, "startTime": stamp(4)} for reason in pauses]
    if abort:
        status["abort"] = True
        status["abortedAt"] = stamp(6)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": meta(
            name,
            generation=12,
            rv="48290001",
            annotations={"rollout.argoproj.io/revision": "4", **(annotations or {})},
        ),
        "spec": spec,
        "status": status,
    }


KRUISE_STEPS: list[Obj] = [
    {"traffic": "5%", "replicas": 1, "pause": {}},
    {"replicas": "50%", "pause": {"duration": 60}},
    {"replicas": "100%"},
]


def kruise_rollout(
    name: str = "shop-web",
    *,
    workload: tuple[str, str] = ("Deployment", "shop-web"),
    api: str = "rollouts.kruise.io/v1beta1",
    phase: str = "Progressing",
    step_index: int = 1,
    step_state: str | None = "StepUpgrade",
    canary: int = 1,
    canary_ready: int = 1,
    changed: int = 2,
    disabled: bool = False,
    strategy_paused: bool = False,
    message: str = "Rollout is in step(1/3), and upgrade workload to new version",
    annotations: dict[str, str] | None = None,
) -> Obj:
    ref = {"apiVersion": "apps/v1", "kind": workload[0], "name": workload[1]}
    strategy: Obj = {"canary": {"steps": KRUISE_STEPS}}
    if strategy_paused:
        strategy["paused"] = True
    spec: Obj = {"strategy": strategy, "disabled": disabled}
    if api.endswith("v1alpha1"):
        spec["objectRef"] = {"workloadRef": ref}
    else:
        spec["workloadRef"] = ref
    status: Obj = {
        "observedGeneration": 3,
        "phase": phase,
        "message": message,
        "currentStepIndex": step_index,
        "currentStepState": step_state or "",
        "conditions": [cond("Progressing", "True", "InRolling", "Rollout is in Progressing", moved=30)],
    }
    if step_state is not None:
        status["canaryStatus"] = {
            "observedWorkloadGeneration": 9,
            "observedRolloutID": "",
            "rolloutHash": "d8c8v2w74286d77c4925wdw58v65z8725z7",
            "stableRevision": "6b8f7c9d5",
            "canaryRevision": "84c7b6f9d",
            "podTemplateHash": "7f6d8c9b4",
            "canaryReplicas": canary,
            "canaryReadyReplicas": canary_ready,
            "currentStepIndex": step_index,
            "nextStepIndex": step_index + 1 if step_index < len(KRUISE_STEPS) else -1,
            "currentStepState": step_state,
            "message": f"BatchRelease is at state Verifying, rollout-id , step {step_index}",
            "lastUpdateTime": stamp(changed),
            "finalisingStep": "",
        }
    return {
        "apiVersion": api,
        "kind": "Rollout",
        "metadata": meta(
            name,
            generation=3,
            rv="48300007",
            annotations={"rollouts.kruise.io/rolling-style": "partition", **(annotations or {})},
        ),
        "spec": spec,
        "status": status,
    }


def web_history(owner_name: str = "shop-web", owner_kind: str = "Deployment") -> tuple[Obj, ...]:
    """ReplicaSets of revisions 1..3 (v1.4.1..v1.4.3); revision 3 is current."""
    return (
        replicaset(
            owner_name, 1, image("web", "v1.4.1"), pod_hash="5d4c3b2a1", created=9000, owner_kind=owner_kind
        ),
        replicaset(
            owner_name,
            3,
            image("web", "v1.4.3"),
            pod_hash="84c7b6f9d",
            created=12,
            replicas=4,
            owner_kind=owner_kind,
        ),
        replicaset(
            owner_name, 2, image("web", "v1.4.2"), pod_hash="6b8f7c9d5", created=3000, owner_kind=owner_kind
        ),
    )


def snap(**objects: Any) -> Snapshot:
    fields = {key: tuple(value) for key, value in objects.items()}
    return Snapshot(environment="shop-prod", namespace="shop", selector="app=shop", taken_at=NOW, **fields)


def only(orders: tuple[ReleaseOrder, ...]) -> ReleaseOrder:
    current = [order for order in orders if order.current]
    assert len(current) == 1, current
    return current[0]


# --- Deployment --------------------------------------------------------------------------------

DEADLINE = 'ReplicaSet "shop-web-84c7b6f9d" has timed out progressing.'


@pytest.mark.parametrize(
    ("kwargs", "state", "reason"),
    [
        pytest.param({}, "completed", "", id="rolled-out"),
        pytest.param({"updated": 2, "available": 3, "total": 6}, "deploying", "", id="pods-updating"),
        pytest.param({"observed": 6}, "deploying", "", id="new-generation-not-observed"),
        pytest.param({"total": 5}, "deploying", "", id="old-pod-terminating"),
        pytest.param({"available": 3}, "deploying", "", id="new-pod-not-available"),
        pytest.param(
            {"updated": 2, "available": 2, "progressing": ("False", "ProgressDeadlineExceeded", DEADLINE)},
            "failed",
            f"ProgressDeadlineExceeded: {DEADLINE}",
            id="progress-deadline",
        ),
        pytest.param(
            {
                "paused": True,
                "updated": 1,
                "progressing": ("Unknown", "DeploymentPaused", "Deployment is paused"),
            },
            "paused",
            "DeploymentPaused: Deployment is paused",
            id="paused",
        ),
        pytest.param(
            {"paused": True, "updated": 1, "annotations": CLOSED},
            "closed",
            CLOSED_NOTE,
            id="closed",
        ),
        pytest.param(
            {
                "paused": True,
                "annotations": CLOSED,
                "progressing": ("False", "ProgressDeadlineExceeded", DEADLINE),
            },
            "closed",
            CLOSED_NOTE,
            id="closed-after-failing",
        ),
        pytest.param({"annotations": CLOSED}, "completed", "", id="closed-then-resumed-is-not-closed"),
        pytest.param(
            {"replicas": 0, "updated": 0, "ready": 0, "available": 0}, "completed", "", id="scaled-to-zero"
        ),
        pytest.param(
            {"replicas": 0, "updated": 0, "ready": 0, "available": 0, "total": 2},
            "deploying",
            "",
            id="scaling-to-zero",
        ),
    ],
)
def test_deployment_state(kwargs: dict[str, Any], state: str, reason: str) -> None:
    order = only(release_orders(snap(deployments=[deployment(**kwargs)], replicasets=web_history())))
    assert (order.state, order.reason) == (state, reason)
    assert order.state in STATES


def test_deployment_versions_revision_and_times() -> None:
    other = replicaset("shop-admin", 2, image("admin", "v0.9.0"), pod_hash="7c6b5a4d3", created=60)
    snapshot = snap(
        deployments=[deployment(updated=2, ready=3, available=3, total=5)],
        replicasets=[*web_history(), other],
    )
    order = release_orders(snapshot)[0]
    assert order == ReleaseOrder(
        kind="Deployment",
        source="apps",
        target="Deployment/shop-web",
        revision="3",
        state="deploying",
        batch=1,
        batches=1,
        old_version=image("web", "v1.4.2"),
        new_version=image("web", "v1.4.3"),
        desired=4,
        updated=2,
        ready=3,
        available=3,
        started_at=at(12),  # creation of the revision-3 ReplicaSet, not of the Deployment
        changed_at=at(3),  # Progressing lastUpdateTime
        reason="",
        resource_version="48213377",
        current=True,
    )


def test_deployment_versions_join_every_container_image() -> None:
    dep = deployment(images=(image("web", "v1.4.3"), image("envoy", "v1.29.1")))
    order = only(release_orders(snap(deployments=[dep], replicasets=web_history())))
    assert order.new_version == f"{image('web', 'v1.4.3')}, {image('envoy', 'v1.29.1')}"


def test_deployment_without_replicasets_falls_back_to_its_own_creation() -> None:
    order = only(release_orders(snap(deployments=[deployment(revision=1)])))
    assert (order.old_version, order.started_at, order.revision) == (None, at(600), "1")


@pytest.mark.parametrize(
    ("batches", "replicas", "updated", "expected"),
    [
        (None, 10, 3, (1, 1)),
        ("5", 10, 0, (1, 5)),
        ("5", 10, 2, (1, 5)),
        ("5", 10, 3, (2, 5)),
        ("5", 10, 7, (4, 5)),
        ("5", 10, 10, (5, 5)),
        ("3", 4, 2, (2, 3)),
        ("1", 10, 5, (1, 1)),
        ("five", 10, 5, (1, 1)),
        ("5", 0, 0, (1, 5)),
    ],
)
def test_deployment_batch_k_of_n(
    batches: str | None, replicas: int, updated: int, expected: tuple[int, int]
) -> None:
    notes = {"deploybot.io/batches": batches} if batches else None
    dep = deployment(replicas=replicas, updated=updated, ready=updated, available=updated, annotations=notes)
    order = only(release_orders(snap(deployments=[dep])))
    assert (order.batch, order.batches) == expected


def test_deployment_history_is_newest_first_and_capped_at_five() -> None:
    sets = [
        replicaset(
            "shop-web",
            rev,
            image("web", f"v1.0.{rev}"),
            pod_hash=f"{rev}a{rev}b{rev}c",
            created=1000 - rev * 100,
        )
        for rev in (3, 8, 1, 6, 2, 7, 4, 5)
    ]
    dep = deployment(revision=8, images=(image("web", "v1.0.8"),))
    orders = release_orders(snap(deployments=[dep], replicasets=sets))
    history = orders[1:]
    assert [order.current for order in orders] == [True] + [False] * 5
    assert [order.revision for order in history] == ["7", "6", "5", "4", "3"]
    assert {order.state for order in history} == {"completed"}
    assert {order.target for order in history} == {"Deployment/shop-web"}
    assert [order.new_version for order in history] == [
        image("web", f"v1.0.{rev}") for rev in (7, 6, 5, 4, 3)
    ]
    assert [order.old_version for order in history] == [
        image("web", f"v1.0.{rev}") for rev in (6, 5, 4, 3, 2)
    ]
    assert history[0].reason == "superseded by revision 8"
    assert history[0].changed_at == at(200)  # when revision 8 was created
    assert history[0].started_at == at(300)
    assert orders[0].old_version == image("web", "v1.0.7")


# --- StatefulSet -------------------------------------------------------------------------------

NEW_REV = "shop-db-7f6d8c9b4"


@pytest.mark.parametrize(
    ("kwargs", "state", "reason"),
    [
        pytest.param({}, "completed", "", id="rolled-out"),
        pytest.param({"update": NEW_REV, "updated": 1}, "deploying", "", id="rolling"),
        pytest.param({"update": NEW_REV, "updated": 3, "ready": 2}, "deploying", "", id="last-pod-not-ready"),
        pytest.param({"observed": 3}, "deploying", "", id="new-generation-not-observed"),
        pytest.param(
            {"update": NEW_REV, "partition": 2, "updated": 1},
            "paused",
            f"partition 2: 1 of 3 pods on {NEW_REV}",
            id="partition-batch-boundary",
        ),
        pytest.param(
            {"update": NEW_REV, "partition": 2, "updated": 1, "ready": 2},
            "deploying",
            "",
            id="partition-pod-not-ready",
        ),
        pytest.param(
            {"update": NEW_REV, "partition": 1, "updated": 1}, "deploying", "", id="partition-not-reached"
        ),
        pytest.param(
            {"update": NEW_REV, "strategy": "OnDelete", "partition": 2, "updated": 1},
            "deploying",
            "",
            id="on-delete-ignores-partition",
        ),
        pytest.param(
            {"update": NEW_REV, "partition": 3, "updated": 1, "ready": 2, "annotations": CLOSED},
            "closed",
            CLOSED_NOTE,
            id="closed",
        ),
        pytest.param({"partition": 0, "annotations": CLOSED}, "completed", "", id="closed-then-released"),
    ],
)
def test_statefulset_state(kwargs: dict[str, Any], state: str, reason: str) -> None:
    order = only(release_orders(snap(statefulsets=[statefulset(**kwargs)])))
    assert (order.state, order.reason) == (state, reason)
    assert (order.kind, order.source, order.target) == ("StatefulSet", "apps", "StatefulSet/shop-db")


@pytest.mark.parametrize(
    ("partition", "updated", "expected"),
    [(None, 1, (1, 1)), (0, 3, (1, 1)), (2, 1, (1, 3)), (1, 2, (2, 3)), (3, 0, (1, 3))],
)
def test_statefulset_partition_steps_are_batches(
    partition: int | None, updated: int, expected: tuple[int, int]
) -> None:
    sts = statefulset(update=NEW_REV, partition=partition, updated=updated)
    order = only(release_orders(snap(statefulsets=[sts])))
    assert (order.batch, order.batches) == expected


def test_statefulset_versions_and_times_come_from_revisions_and_pods() -> None:
    pods = [
        pod("shop-db-2", "StatefulSet", "shop-db", NEW_REV, created=9),
        pod("shop-db-1", "StatefulSet", "shop-db", NEW_REV, created=4),
        pod("shop-db-0", "StatefulSet", "shop-db", "shop-db-5c7b9d8f4", created=5000),
        pod("shop-cache-0", "StatefulSet", "shop-cache", NEW_REV, created=1),
    ]
    rolling = only(release_orders(snap(statefulsets=[statefulset(update=NEW_REV, updated=2)], pods=pods)))
    assert (rolling.revision, rolling.old_version) == (NEW_REV, "shop-db-5c7b9d8f4")
    assert rolling.new_version == image("mysql", "8.0.36")
    assert (rolling.started_at, rolling.changed_at) == (at(9), at(4))
    assert (rolling.desired, rolling.updated, rolling.ready) == (3, 2, 3)
    done = only(release_orders(snap(statefulsets=[statefulset()])))
    assert (done.old_version, done.started_at) == (None, None)  # no ControllerRevision history to read


def test_statefulset_versions_are_the_images_of_its_controller_revisions() -> None:
    def revision(rev_name: str, number: int, tag: str, created: int) -> Obj:
        cr = k8s.controller_revision("shop-db", number, image("mysql", tag))
        cr["metadata"].update(name=rev_name, creationTimestamp=stamp(created))
        return cr

    history = [revision("shop-db-5c7b9d8f4", 1, "8.0.35", 900), revision(NEW_REV, 2, "8.0.36", 30)]
    rolling = only(
        release_orders(
            snap(statefulsets=[statefulset(update=NEW_REV, updated=1)], controllerrevisions=history)
        )
    )
    assert (rolling.old_version, rolling.new_version) == (image("mysql", "8.0.35"), image("mysql", "8.0.36"))
    assert rolling.started_at == at(30)  # no pods on the new revision yet: when the revision was made
    done = only(
        release_orders(
            snap(statefulsets=[statefulset(current=NEW_REV, update=NEW_REV)], controllerrevisions=history)
        )
    )
    assert done.state == "completed" and done.old_version == image("mysql", "8.0.35")


# --- Argo Rollouts -----------------------------------------------------------------------------

ABORTED = "RolloutAborted: Rollout aborted update to revision 4"
ARGO_DEADLINE = 'ProgressDeadlineExceeded: ReplicaSet "shop-api-84c7b6f9d" has timed out progressing.'


@pytest.mark.parametrize(
    ("kwargs", "state", "reason"),
    [
        pytest.param({}, "completed", "", id="fully-promoted"),
        pytest.param({"steps": [], "step_index": None}, "completed", "", id="no-steps-healthy"),
        pytest.param(
            {"phase": "Progressing", "step_index": 2, "stable": "6b8f7c9d5"}, "deploying", "", id="rolling"
        ),
        pytest.param({"phase": "Healthy", "step_index": 4}, "deploying", "", id="healthy-but-steps-left"),
        pytest.param(
            {
                "phase": "Paused",
                "step_index": 1,
                "pauses": ("CanaryPauseStep",),
                "message": "CanaryPauseStep",
            },
            "paused",
            "CanaryPauseStep",
            id="pause-step",
        ),
        pytest.param(
            {"phase": "Paused", "step_index": 3, "paused": True, "message": "manually paused"},
            "paused",
            "manually paused",
            id="manual-pause",
        ),
        pytest.param(
            {"phase": "Progressing", "step_index": 2, "pauses": ("InconclusiveAnalysisRun",)},
            "paused",
            "InconclusiveAnalysisRun",
            id="inconclusive-analysis",
        ),
        pytest.param(
            {"phase": "Degraded", "step_index": 2, "message": ARGO_DEADLINE},
            "failed",
            ARGO_DEADLINE,
            id="degraded",
        ),
        pytest.param(
            {"phase": "Degraded", "step_index": 0, "abort": True, "message": ABORTED},
            "failed",
            ABORTED,
            id="aborted",
        ),
        pytest.param(
            {"phase": "Degraded", "step_index": 0, "abort": True, "message": ABORTED, "annotations": CLOSED},
            "closed",
            CLOSED_NOTE,
            id="closed",
        ),
        pytest.param(
            {"phase": "Paused", "step_index": 1, "pauses": ("CanaryPauseStep",), "annotations": CLOSED},
            "paused",
            "CanaryPauseStep",
            id="closed-annotation-without-abort",
        ),
    ],
)
def test_argo_state(kwargs: dict[str, Any], state: str, reason: str) -> None:
    order = only(release_orders(snap(argo_rollouts=[argo_rollout(**kwargs)])))
    assert (order.state, order.reason) == (state, reason)
    assert (order.kind, order.source, order.target) == ("Rollout", "argo", "Rollout/shop-api")


@pytest.mark.parametrize(
    ("step_index", "expected"),
    [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 3), (None, 1), (99, 3)],
)
def test_argo_setweight_steps_are_batches(step_index: int | None, expected: int) -> None:
    rollout = argo_rollout(phase="Progressing", step_index=step_index)
    order = only(release_orders(snap(argo_rollouts=[rollout])))
    assert (order.batch, order.batches) == (expected, 3)


def argo_sets() -> list[Obj]:
    def rs(revision: int, tag: str, pod_hash: str, created: int) -> Obj:
        return replicaset(
            "shop-api", revision, image("api", tag), pod_hash=pod_hash, created=created, owner_kind="Rollout"
        )

    return [
        rs(2, "v2.0.0", "5d4c3b2a1", 9000),
        rs(3, "v2.1.0", "6b8f7c9d5", 3000),
        rs(4, "v2.2.0", "84c7b6f9d", 20),
    ]


def test_argo_canary_versions_times_and_history() -> None:
    rollout = argo_rollout(
        phase="Paused", step_index=1, stable="6b8f7c9d5", pauses=("CanaryPauseStep",), updated=1, ready=5
    )
    orders = release_orders(snap(argo_rollouts=[rollout], replicasets=argo_sets()))
    order = orders[0]
    assert (order.revision, order.old_version, order.new_version) == (
        "84c7b6f9d",
        image("api", "v2.1.0"),
        image("api", "v2.2.0"),
    )
    assert (order.started_at, order.changed_at) == (at(20), at(4))  # new RS created, pause started
    assert (order.desired, order.updated, order.ready, order.available) == (5, 1, 5, 5)
    assert order.resource_version == "48290001"
    assert [(o.revision, o.current, o.state) for o in orders[1:]] == [
        ("6b8f7c9d5", False, "completed"),
        ("5d4c3b2a1", False, "completed"),
    ]
    assert orders[1].reason == "superseded by revision 4"


def test_argo_old_version_falls_back_to_the_stable_hash_and_previous_revision() -> None:
    canary = argo_rollout(phase="Progressing", step_index=2, stable="6b8f7c9d5")
    assert only(release_orders(snap(argo_rollouts=[canary]))).old_version == "6b8f7c9d5"
    promoted = only(release_orders(snap(argo_rollouts=[argo_rollout()], replicasets=argo_sets())))
    assert promoted.old_version == image("api", "v2.1.0")  # stable is the new one: the revision before


def test_argo_aborted_changed_at_is_abort_time() -> None:
    rollout = argo_rollout(phase="Degraded", step_index=0, abort=True, message=ABORTED, stable="6b8f7c9d5")
    assert only(release_orders(snap(argo_rollouts=[rollout]))).changed_at == at(6)


# --- OpenKruise Rollouts -----------------------------------------------------------------------

PAUSED_MSG = "Rollout is in step(1/3), and you need manually confirm to enter the next step"


@pytest.mark.parametrize(
    ("kwargs", "state", "reason"),
    [
        pytest.param(
            {
                "phase": "Healthy",
                "step_index": 3,
                "step_state": "Completed",
                "message": "Rollout is Completed",
            },
            "completed",
            "",
            id="completed",
        ),
        pytest.param({"phase": "Healthy", "step_state": None, "message": ""}, "completed", "", id="idle"),
        pytest.param({"canary_ready": 0}, "deploying", "", id="batch-upgrading"),
        pytest.param(
            {"step_state": "StepPaused", "message": PAUSED_MSG},
            "paused",
            PAUSED_MSG,
            id="waiting-for-approval",
        ),
        pytest.param(
            {"strategy_paused": True, "message": ""}, "paused", "spec.strategy.paused", id="strategy-paused"
        ),
        pytest.param(
            {"disabled": True, "phase": "Disabled"},
            "closed",
            "spec.disabled: the Rollout no longer drives its workload",
            id="disabled",
        ),
        pytest.param(
            {"disabled": True, "phase": "Disabling", "annotations": CLOSED},
            "closed",
            CLOSED_NOTE,
            id="closed",
        ),
        pytest.param(
            {"canary_ready": 0, "changed": 25},
            "failed",
            "batch 1/3 stuck in StepUpgrade for 25m: 0 of 1 new pods ready",
            id="batch-stuck",
        ),
        pytest.param(
            {"canary": 0, "canary_ready": 0, "changed": 12},
            "failed",
            "batch 1/3 stuck in StepUpgrade for 12m: 0 of 1 new pods ready",
            id="batch-pods-never-created",
        ),
        pytest.param(
            {"step_index": 2, "canary": 1, "canary_ready": 1, "changed": 30},
            "failed",
            "batch 2/3 stuck in StepUpgrade for 30m: 1 of 2 new pods ready",
            id="percentage-batch-short",
        ),
        pytest.param({"canary_ready": 0, "changed": 9}, "deploying", "", id="not-yet-past-deadline"),
        pytest.param({"step_state": "StepReady", "changed": 40}, "deploying", "", id="ready-step-not-stuck"),
    ],
)
def test_kruise_state(kwargs: dict[str, Any], state: str, reason: str) -> None:
    snapshot = snap(
        kruise_rollouts=[kruise_rollout(**kwargs)],
        deployments=[deployment(paused=True, updated=1)],
        replicasets=web_history(),
    )
    order = only(release_orders(snapshot))
    assert (order.state, order.reason) == (state, reason)
    assert (order.kind, order.source, order.target) == ("Rollout", "kruise", "Rollout/shop-web")


@pytest.mark.parametrize("api", ["rollouts.kruise.io/v1beta1", "rollouts.kruise.io/v1alpha1"])
def test_kruise_reads_its_workload(api: str) -> None:
    rollout = kruise_rollout(
        api=api, step_index=2, step_state="StepPaused", canary=2, canary_ready=2, changed=7
    )
    snapshot = snap(
        kruise_rollouts=[rollout],
        deployments=[deployment(paused=True, updated=2, ready=4, available=4, total=4)],
        replicasets=web_history(),
    )
    orders = release_orders(snapshot)
    order = orders[0]
    assert (order.batch, order.batches) == (2, 3)
    assert (order.revision, order.old_version, order.new_version) == (
        "3",
        image("web", "v1.4.2"),
        image("web", "v1.4.3"),
    )
    assert (order.desired, order.updated, order.ready) == (4, 2, 4)
    assert (order.started_at, order.changed_at) == (at(12), at(7))
    assert order.resource_version == "48300007"  # the Rollout's: that is what actions patch
    assert [(o.target, o.revision, o.current) for o in orders[1:]] == [
        ("Rollout/shop-web", "2", False),
        ("Rollout/shop-web", "1", False),
    ]


def test_kruise_without_its_workload_uses_canary_status() -> None:
    order = only(release_orders(snap(kruise_rollouts=[kruise_rollout(canary=1, canary_ready=0)])))
    assert (order.revision, order.old_version, order.new_version) == ("84c7b6f9d", None, None)
    assert (order.desired, order.updated, order.ready, order.state) == (0, 1, 0, "deploying")


# --- dedup, ordering, robustness ---------------------------------------------------------------


def test_kruise_rollout_replaces_the_deployment_it_drives() -> None:
    snapshot = snap(
        deployments=[deployment(paused=True, updated=1), deployment("shop-admin", revision=1)],
        replicasets=web_history(),
        kruise_rollouts=[kruise_rollout(step_state="StepPaused", message=PAUSED_MSG)],
    )
    orders = release_orders(snapshot)
    targets = [order.target for order in orders]
    assert "Deployment/shop-web" not in targets  # neither current nor history
    assert [o.target for o in orders if o.current] == ["Rollout/shop-web", "Deployment/shop-admin"]
    assert [o.revision for o in orders if o.target == "Rollout/shop-web" and not o.current] == ["2", "1"]


def test_argo_workload_ref_replaces_the_deployment() -> None:
    dep = deployment(replicas=0, updated=0, ready=0, available=0, images=(image("api", "v2.2.0"),))
    rollout = argo_rollout(phase="Progressing", step_index=2, stable="6b8f7c9d5", workload="shop-web")
    orders = release_orders(snap(deployments=[dep], argo_rollouts=[rollout]))
    assert [(o.target, o.source) for o in orders] == [("Rollout/shop-api", "argo")]
    assert orders[0].new_version == image("api", "v2.2.0")  # template read from the referenced Deployment


def test_kruise_rollout_replaces_the_statefulset_it_drives() -> None:
    rollout = kruise_rollout("shop-db", workload=("StatefulSet", "shop-db"), canary=1, canary_ready=1)
    sts = statefulset(update=NEW_REV, partition=2, updated=1)
    order = only(release_orders(snap(statefulsets=[sts], kruise_rollouts=[rollout])))
    assert (order.target, order.revision, order.old_version) == (
        "Rollout/shop-db",
        NEW_REV,
        "shop-db-5c7b9d8f4",
    )


def test_current_orders_come_first_by_urgency_then_history() -> None:
    snapshot = snap(
        deployments=[
            deployment("shop-admin", revision=1),
            deployment(updated=2, available=2, progressing=("False", "ProgressDeadlineExceeded", DEADLINE)),
        ],
        replicasets=web_history(),
        statefulsets=[statefulset(update=NEW_REV, updated=1)],
        argo_rollouts=[argo_rollout(phase="Paused", step_index=1, pauses=("CanaryPauseStep",))],
        kruise_rollouts=[kruise_rollout("shop-cart", workload=("Deployment", "shop-cart"), disabled=True)],
    )
    orders = release_orders(snapshot)
    assert [(o.state, o.target) for o in orders if o.current] == [
        ("failed", "Deployment/shop-web"),
        ("paused", "Rollout/shop-api"),
        ("deploying", "StatefulSet/shop-db"),
        ("closed", "Rollout/shop-cart"),
        ("completed", "Deployment/shop-admin"),
    ]
    assert [o.current for o in orders] == [True] * 5 + [False] * 2


def bare(kind: str, api: str) -> Obj:
    """A just-created object: metadata and spec, no status yet."""
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": "shop-new", "namespace": "shop", "resourceVersion": "1", "generation": 1},
        "spec": {"replicas": 2, "template": template(image("new", "v0.1.0"))},
    }


@pytest.mark.parametrize(
    ("field", "kind", "api"),
    [
        ("deployments", "Deployment", "apps/v1"),
        ("statefulsets", "StatefulSet", "apps/v1"),
        ("argo_rollouts", "Rollout", "argoproj.io/v1alpha1"),
        ("kruise_rollouts", "Rollout", "rollouts.kruise.io/v1beta1"),
    ],
)
def test_missing_status_reads_as_deploying_with_zero_counts(field: str, kind: str, api: str) -> None:
    order = only(release_orders(snap(**{field: [bare(kind, api)]})))
    assert order.state == "deploying"
    assert (order.updated, order.ready, order.available) == (0, 0, 0)
    assert (order.started_at, order.changed_at) == (None, None)
    assert (order.batch, order.batches) == (1, 1)
    assert order.target == f"{kind}/shop-new"


@pytest.mark.parametrize("field", ["deployments", "statefulsets", "argo_rollouts", "kruise_rollouts"])
def test_empty_objects_never_raise(field: str) -> None:
    junk: list[Obj] = [{}, {"metadata": None, "spec": {"replicas": "many"}, "status": {"conditions": "none"}}]
    orders = release_orders(snap(**{field: junk}))
    assert len(orders) == 2
    assert all(order.state in STATES and order.batch == 1 for order in orders)


def test_naive_snapshot_time_is_read_as_utc() -> None:
    snapshot = Snapshot(
        environment="shop-prod",
        namespace="shop",
        selector="",
        taken_at=NOW.replace(tzinfo=None),
        kruise_rollouts=(kruise_rollout(canary_ready=0, changed=25),),
    )
    assert only(release_orders(snapshot)).state == "failed"
