"""Builders of Kubernetes objects as `kubectl get -o json` shows them, for unit and integration tests.

Every builder returns a valid API object (apiVersion, kind, metadata.name/namespace, a valid
spec) that a real API server accepts on create. The status is separate: pass `status=` (or use
the status helpers) and the object carries a "status" key, which `tests/kube_cluster.Cluster.create`
pops and writes through the `/status` subresource, as a controller would.

Times are relative to `NOW` (the snapshot time of unit tests). Integration tests that read
through a real clock set `k8s_objects.NOW` (e.g. with monkeypatch) before building objects.
Fields the server owns are set for realism in unit tests and ignored on create
(metadata.uid, creationTimestamp, deletionTimestamp: a stuck pod needs a finalizer and a delete).

The scenario functions at the end assemble the objects of one situation (7 pods failing to pull
an image, a quota refusing a ReplicaSet, ...) so both kinds of test load the same cluster state.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.snapshot import Snapshot

Obj = dict[str, Any]

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NS = "shop"
NODES = ("cn-hangzhou.10.0.1.11", "cn-hangzhou.10.0.1.12", "cn-hangzhou.10.0.1.13")
REGISTRY = "registry.cn-hangzhou.aliyuncs.com/shop"


# ---------------------------------------------------------------- basics


def ts(minutes_ago: float = 0) -> str:
    """An API timestamp `minutes_ago` before NOW: ts(5) == "2026-11-21T09:55:00Z"."""
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(kind: str, name: str, namespace: str = NS) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{namespace}/{name}"))


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def suffix(seed: str, length: int = 5) -> str:
    """Stable pod-name-like suffix (bcdfghjklmnpqrstvwxz2456789, as the API server picks)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(hashlib.sha1(seed.encode()).hexdigest(), 16)
    out = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        out.append(alphabet[index])
    return "".join(out)


def meta(
    name: str,
    kind: str,
    *,
    namespace: str | None = NS,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    created: float = 120,
) -> Obj:
    metadata: Obj = {
        "name": name,
        "uid": uid(kind, name, namespace or ""),
        "resourceVersion": str(int(hashlib.sha1(name.encode()).hexdigest(), 16) % 900000 + 100000),
        "creationTimestamp": ts(created),
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    if owner is not None:
        owner_kind, owner_name = owner
        api = "v1" if owner_kind == "Node" else "apps/v1"
        metadata["ownerReferences"] = [
            {
                "apiVersion": api,
                "kind": owner_kind,
                "name": owner_name,
                "uid": uid(owner_kind, owner_name, namespace or ""),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return metadata


def with_status(obj: Obj, status: Mapping[str, Any] | None) -> Obj:
    if status is not None:
        obj["status"] = dict(status)
    return obj


def split_status(obj: Obj) -> tuple[Obj, Obj | None]:
    """(object to create, status to write through /status)."""
    body = {k: v for k, v in obj.items() if k != "status"}
    return body, obj.get("status")


# ---------------------------------------------------------------- containers


def http_probe(
    path: str = "/healthz",
    port: int = 8080,
    *,
    initial_delay: int = 3,
    period: int = 3,
    timeout: int = 1,
    failure_threshold: int = 3,
) -> Obj:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "successThreshold": 1,
        "failureThreshold": failure_threshold,
    }


def container(
    name: str = "web",
    image: str = f"{REGISTRY}/web:v1.4.2",
    *,
    cpu_request: str | None = "500m",
    memory_request: str | None = "1Gi",
    memory_limit: str | None = "2Gi",
    env: Mapping[str, str] | None = None,
    env_from_configmap: str | None = None,
    secret_env: tuple[str, str, str] | None = None,
    liveness: Obj | None = None,
    readiness: Obj | None = None,
    post_start: Sequence[str] | None = None,
    pre_stop: Sequence[str] | None = None,
    pull_policy: str = "IfNotPresent",
    mounts: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> Obj:
    spec: Obj = {
        "name": name,
        "image": image,
        "imagePullPolicy": pull_policy,
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    resources: Obj = {}
    requests = {k: v for k, v in (("cpu", cpu_request), ("memory", memory_request)) if v}
    if requests:
        resources["requests"] = requests
    if memory_limit:
        resources["limits"] = {"memory": memory_limit}
    spec["resources"] = resources
    env_list: list[Obj] = [{"name": k, "value": v} for k, v in (env or {}).items()]
    if secret_env is not None:
        var, secret, key = secret_env
        env_list.append({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    if env_list:
        spec["env"] = env_list
    if env_from_configmap:
        spec["envFrom"] = [{"configMapRef": {"name": env_from_configmap}}]
    if liveness is not None:
        spec["livenessProbe"] = liveness
    if readiness is not None:
        spec["readinessProbe"] = readiness
    lifecycle: Obj = {}
    if post_start is not None:
        lifecycle["postStart"] = {"exec": {"command": list(post_start)}}
    if pre_stop is not None:
        lifecycle["preStop"] = {"exec": {"command": list(pre_stop)}}
    if lifecycle:
        spec["lifecycle"] = lifecycle
    if mounts:
        spec["volumeMounts"] = [{"name": k, "mountPath": v} for k, v in mounts.items()]
    if command is not None:
        spec["command"] = list(command)
    return spec


def pod_template(labels: Mapping[str, str], containers: Sequence[Obj], **spec: Any) -> Obj:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "containers": list(containers),
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            **spec,
        },
    }


# ---------------------------------------------------------------- pods


def pod(
    name: str,
    *,
    namespace: str = NS,
    labels: Mapping[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    node: str | None = NODES[0],
    containers: Sequence[Obj] | None = None,
    init_containers: Sequence[Obj] | None = None,
    volumes: Sequence[Obj] | None = None,
    node_selector: Mapping[str, str] | None = None,
    image_pull_secret: str | None = None,
    grace: int = 30,
    created: float = 60,
    deleted_minutes_ago: float | None = None,
    finalizers: Sequence[str] | None = None,
    status: Mapping[str, Any] | None = None,
) -> Obj:
    """A pod; `deleted_minutes_ago` sets deletionTimestamp (the deletion deadline: request + grace)."""
    metadata = meta(name, "Pod", namespace=namespace, labels=labels, owner=owner, created=created)
    spec: Obj = {
        "containers": list(containers or [container()]),
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": grace,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
    }
    if init_containers:
        spec["initContainers"] = list(init_containers)
    if node is not None:
        spec["nodeName"] = node
    if volumes:
        spec["volumes"] = list(volumes)
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if image_pull_secret:
        spec["imagePullSecrets"] = [{"name": image_pull_secret}]
    if deleted_minutes_ago is not None:
        metadata["deletionTimestamp"] = ts(deleted_minutes_ago)
        metadata["deletionGracePeriodSeconds"] = grace
    if finalizers:
        metadata["finalizers"] = list(finalizers)
    return with_status({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}, status)


def running(started: float = 50) -> Obj:
    return {"running": {"startedAt": ts(started)}}


def waiting(reason: str, message: str = "") -> Obj:
    state: Obj = {"reason": reason}
    if message:
        state["message"] = message
    return {"waiting": state}


def terminated(
    exit_code: int,
    reason: str = "Error",
    *,
    finished: float = 2,
    ran: float = 0.5,
    message: str | None = None,
) -> Obj:
    state: Obj = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": ts(finished + ran),
        "finishedAt": ts(finished),
        "containerID": "containerd://" + hashlib.sha256(f"{exit_code}{finished}".encode()).hexdigest(),
    }
    if message:
        state["message"] = message
    return {"terminated": state}


def container_status(
    name: str = "web",
    image: str = f"{REGISTRY}/web:v1.4.2",
    *,
    state: Obj | None = None,
    last_state: Obj | None = None,
    ready: bool = True,
    restarts: int = 0,
    image_id: str | None = None,
) -> Obj:
    started = state is not None and "running" in state
    status: Obj = {
        "name": name,
        "image": image,
        "imageID": image_id
        if image_id is not None
        else (f"{image.rsplit(':', 1)[0]}@{digest(image)}" if started else ""),
        "state": state if state is not None else running(),
        "lastState": last_state or {},
        "ready": ready,
        "restartCount": restarts,
        "started": started,
    }
    if started or (last_state and "terminated" in last_state):
        status["containerID"] = (
            "containerd://" + hashlib.sha256(f"{name}{image}{restarts}".encode()).hexdigest()
        )
    return status


def pod_status(
    phase: str = "Running",
    *,
    containers: Sequence[Obj] = (),
    init_containers: Sequence[Obj] = (),
    node_ip: str = "10.0.1.11",
    pod_ip: str | None = "172.20.1.15",
    started: float = 60,
    scheduled: bool = True,
    unschedulable_message: str = "",
    reason: str | None = None,
    message: str | None = None,
) -> Obj:
    """Status with the conditions the kubelet/scheduler would write for these container states."""
    all_ready = bool(containers) and all(c.get("ready") for c in containers)
    conditions: list[Obj] = []
    if scheduled:
        conditions = [
            {"type": "Initialized", "status": "True", "lastTransitionTime": ts(started)},
            {
                "type": "Ready",
                "status": "True" if all_ready else "False",
                "lastTransitionTime": ts(started),
                **({} if all_ready else {"reason": "ContainersNotReady"}),
            },
            {
                "type": "ContainersReady",
                "status": "True" if all_ready else "False",
                "lastTransitionTime": ts(started),
                **({} if all_ready else {"reason": "ContainersNotReady"}),
            },
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": ts(started)},
        ]
    elif unschedulable_message:
        conditions = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable_message,
                "lastProbeTime": None,
                "lastTransitionTime": ts(started),
            }
        ]
    status: Obj = {"phase": phase, "conditions": conditions, "qosClass": "Burstable"}
    if scheduled:
        status["hostIP"] = node_ip
        status["startTime"] = ts(started)
        if pod_ip:
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
    if containers:
        status["containerStatuses"] = list(containers)
    if init_containers:
        status["initContainerStatuses"] = list(init_containers)
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status


# ---------------------------------------------------------------- events


def event(
    involved: Obj,
    reason: str,
    message: str,
    *,
    count: int = 1,
    type_: str = "Warning",
    component: str = "kubelet",
    field_path: str | None = None,
    first: float = 30,
    last: float = 1,
) -> Obj:
    """A core/v1 Event about `involved` (the object it is about), aggregated `count` times."""
    md = involved["metadata"]
    namespace = md.get("namespace", "default")
    seed = f"{md['name']}{reason}{message}{field_path}"
    involved_ref: Obj = {
        "kind": involved["kind"],
        "namespace": md.get("namespace", ""),
        "name": md["name"],
        "uid": md.get("uid", ""),
        "apiVersion": involved["apiVersion"],
        "resourceVersion": md.get("resourceVersion", ""),
    }
    if field_path:
        involved_ref["fieldPath"] = field_path
    source: Obj = {"component": component}
    host = (involved.get("spec") or {}).get("nodeName")
    if component == "kubelet" and host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{md['name']}.{hashlib.sha1(seed.encode()).hexdigest()[:16]}",
            "namespace": namespace,
            "creationTimestamp": ts(first),
        },
        "involvedObject": involved_ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(last),
        "count": count,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


def in_container(name: str = "web") -> str:
    return f"spec.containers{{{name}}}"


# ---------------------------------------------------------------- workloads and the rest


def deployment(
    name: str = "shop-web",
    *,
    namespace: str = NS,
    labels: Mapping[str, str] | None = None,
    containers: Sequence[Obj] | None = None,
    replicas: int = 3,
    revision: int = 4,
    paused: bool = False,
    status: Mapping[str, Any] | None = None,
) -> Obj:
    labels = dict(labels or {"app": name})
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(
            name,
            "Deployment",
            namespace=namespace,
            labels=labels,
            annotations={"deployment.kubernetes.io/revision": str(revision)},
            created=60 * 24 * 30,
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": pod_template(labels, containers or [container()]),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }
    if paused:
        obj["spec"]["paused"] = True
    return with_status(obj, status)


def replicaset(
    name: str,
    *,
    deployment_name: str = "shop-web",
    template_hash: str = "7d9f8c6b5",
    namespace: str = NS,
    labels: Mapping[str, str] | None = None,
    containers: Sequence[Obj] | None = None,
    replicas: int = 3,
    revision: int = 4,
    status: Mapping[str, Any] | None = None,
) -> Obj:
    labels = {**(labels or {"app": deployment_name}), "pod-template-hash": template_hash}
    return with_status(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta(
                name,
                "ReplicaSet",
                namespace=namespace,
                labels=labels,
                annotations={"deployment.kubernetes.io/revision": str(revision)},
                owner=("Deployment", deployment_name),
            ),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": pod_template(labels, containers or [container()]),
            },
        },
        status,
    )


def replicaset_status(replicas: int, ready: int | None = None, *, failure: str | None = None) -> Obj:
    status: Obj = {"replicas": replicas, "observedGeneration": 1}
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready, fullyLabeledReplicas=replicas)
    if failure:
        status["conditions"] = [
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": failure,
                "lastTransitionTime": ts(10),
            }
        ]
    return status


def statefulset(
    name: str = "shop-db",
    *,
    namespace: str = NS,
    containers: Sequence[Obj] | None = None,
    replicas: int = 3,
    status: Mapping[str, Any] | None = None,
) -> Obj:
    labels = {"app": name}
    return with_status(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(name, "StatefulSet", namespace=namespace, labels=labels),
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": labels},
                "template": pod_template(labels, containers or [container("db", f"{REGISTRY}/db:5.7")]),
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "podManagementPolicy": "OrderedReady",
            },
        },
        status,
    )


def service(
    name: str = "shop-web", selector: Mapping[str, str] | None = None, *, namespace: str = NS, port: int = 80
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, "Service", namespace=namespace, labels={"app": name}),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(selector if selector is not None else {"app": name}),
            "ports": [{"name": "http", "port": port, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def endpoints(
    name: str = "shop-web",
    *,
    namespace: str = NS,
    ready: Sequence[tuple[str, str]] = (),
    not_ready: Sequence[tuple[str, str]] = (),
) -> Obj:
    """Endpoints with (pod name, ip) addresses; without any address `subsets` is absent, as in the API."""

    def address(pod_name: str, ip: str) -> Obj:
        return {
            "ip": ip,
            "nodeName": NODES[0],
            "targetRef": {
                "kind": "Pod",
                "namespace": namespace,
                "name": pod_name,
                "uid": uid("Pod", pod_name),
            },
        }

    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta(name, "Endpoints", namespace=namespace, labels={"app": name}),
    }
    if ready or not_ready:
        subset: Obj = {"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
        if ready:
            subset["addresses"] = [address(p, ip) for p, ip in ready]
        if not_ready:
            subset["notReadyAddresses"] = [address(p, ip) for p, ip in not_ready]
        obj["subsets"] = [subset]
    return obj


def pvc(
    name: str,
    *,
    namespace: str = NS,
    storage_class: str | None = "alicloud-disk-essd",
    size: str = "20Gi",
    phase: str = "Bound",
    volume: str | None = None,
    created: float = 30,
) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    if volume:
        spec["volumeName"] = volume
    status: Obj = {"phase": phase}
    if phase == "Bound":
        status.update(accessModes=["ReadWriteOnce"], capacity={"storage": size})
    return with_status(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(name, "PersistentVolumeClaim", namespace=namespace, created=created),
            "spec": spec,
        },
        status,
    )


def resource_quota(
    name: str = "compute-resources", *, namespace: str = NS, hard: Mapping[str, str], used: Mapping[str, str]
) -> Obj:
    return with_status(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": meta(name, "ResourceQuota", namespace=namespace),
            "spec": {"hard": dict(hard)},
        },
        {"hard": dict(hard), "used": dict(used)},
    )


def limit_range(
    name: str = "mem-limit-range",
    *,
    namespace: str = NS,
    max_: Mapping[str, str] | None = None,
    min_: Mapping[str, str] | None = None,
    type_: str = "Container",
) -> Obj:
    limit: Obj = {"type": type_}
    if max_:
        limit["max"] = dict(max_)
    if min_:
        limit["min"] = dict(min_)
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta(name, "LimitRange", namespace=namespace),
        "spec": {"limits": [limit]},
    }


def node(
    name: str = NODES[0],
    *,
    ready: str = "True",
    reason: str = "KubeletReady",
    message: str = "kubelet is posting ready status",
    since: float = 60 * 24,
    pressure: Iterable[str] = (),
    taints: Sequence[Obj] = (),
    unschedulable: bool = False,
    labels: Mapping[str, str] | None = None,
) -> Obj:
    """A node; `pressure` names conditions that are True (DiskPressure, MemoryPressure, PIDPressure)."""
    heartbeat = ts(0.2) if ready == "True" else ts(since)
    conditions: list[Obj] = []
    for kind, ok_reason, ok, bad_reason, bad_message in (
        (
            "MemoryPressure",
            "KubeletHasSufficientMemory",
            "sufficient memory available",
            "KubeletHasInsufficientMemory",
            "insufficient memory",
        ),
        (
            "DiskPressure",
            "KubeletHasNoDiskPressure",
            "no disk pressure",
            "KubeletHasDiskPressure",
            "disk pressure",
        ),
        (
            "PIDPressure",
            "KubeletHasSufficientPID",
            "sufficient PID available",
            "KubeletHasInsufficientPID",
            "insufficient PID",
        ),
    ):
        bad = kind in pressure
        conditions.append(
            {
                "type": kind,
                "status": "True" if bad else "False",
                "reason": bad_reason if bad else ok_reason,
                "message": f"kubelet has {bad_message if bad else ok}",
                "lastHeartbeatTime": heartbeat,
                "lastTransitionTime": ts(since),
            }
        )
    conditions.append(
        {
            "type": "Ready",
            "status": ready,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": ts(since),
        }
    )
    ip = name.rsplit(".", 4)[-4:]
    spec: Obj = {"podCIDR": "172.20.1.0/25", "providerID": f"cn-hangzhou.i-bp1{suffix(name, 17)}"}
    if taints:
        spec["taints"] = list(taints)
    if unschedulable:
        spec["unschedulable"] = True
    return with_status(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta(
                name,
                "Node",
                namespace=None,
                labels={
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "topology.kubernetes.io/zone": "cn-hangzhou-h",
                    **(labels or {}),
                },
                created=60 * 24 * 90,
            ),
            "spec": spec,
        },
        {
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": ".".join(ip)},
                {"type": "Hostname", "address": name},
            ],
            "allocatable": {"cpu": "3920m", "memory": "13260Mi", "pods": "64", "ephemeral-storage": "113Gi"},
            "capacity": {"cpu": "4", "memory": "15Gi", "pods": "64", "ephemeral-storage": "120Gi"},
            "nodeInfo": {
                "kubeletVersion": "v1.30.1-aliyun.1",
                "containerRuntimeVersion": "containerd://1.6.28",
            },
        },
    )


# ---------------------------------------------------------------- snapshots

_FIELDS = {
    "Pod": "pods",
    "Event": "events",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "ReplicaSet": "replicasets",
    "ControllerRevision": "controllerrevisions",
    "Service": "services",
    "Endpoints": "endpoints",
    "PersistentVolumeClaim": "pvcs",
    "ResourceQuota": "resourcequotas",
    "LimitRange": "limitranges",
    "Node": "nodes",
}


def snapshot(
    objects: Iterable[Obj],
    *,
    namespace: str = NS,
    selector: str = "",
    environment: str = "shop-prod",
    taken_at: datetime | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> Snapshot:
    """The Snapshot an inspection of these objects would produce."""
    fields: dict[str, list[Obj]] = {}
    for obj in objects:
        kind = obj.get("kind", "")
        if kind == "Rollout":
            field = (
                "argo_rollouts"
                if str(obj.get("apiVersion", "")).startswith("argoproj.io")
                else "kruise_rollouts"
            )
        else:
            field = _FIELDS[kind]
        fields.setdefault(field, []).append(obj)
    return Snapshot(
        environment=environment,
        namespace=namespace,
        selector=selector,
        taken_at=taken_at or NOW,
        unavailable=dict(unavailable or {}),
        **{field: tuple(objs) for field, objs in fields.items()},
    )


# ---------------------------------------------------------------- scenarios


def web_pod_name(index: int, template_hash: str = "7d9f8c6b5", app: str = "shop-web") -> str:
    return f"{app}-{template_hash}-{suffix(f'{app}{template_hash}{index}')}"


def web_pod(
    index: int,
    *,
    containers: Sequence[Obj] | None = None,
    status: Mapping[str, Any] | None = None,
    template_hash: str = "7d9f8c6b5",
    app: str = "shop-web",
    node_index: int | None = None,
    **kwargs: Any,
) -> Obj:
    """Pod `index` of the Deployment `app` (owned by its ReplicaSet app-template_hash)."""
    name = web_pod_name(index, template_hash, app)
    kwargs.setdefault("node", NODES[(index if node_index is None else node_index) % len(NODES)])
    return pod(
        name,
        labels={"app": app, "pod-template-hash": template_hash},
        owner=("ReplicaSet", f"{app}-{template_hash}"),
        containers=containers,
        status=status,
        **kwargs,
    )


def web_workload(
    image: str = f"{REGISTRY}/web:v1.4.2",
    *,
    replicas: int = 3,
    ready: int | None = None,
    app: str = "shop-web",
    template_hash: str = "7d9f8c6b5",
    containers: Sequence[Obj] | None = None,
    rs_status: Mapping[str, Any] | None = None,
) -> list[Obj]:
    """The Deployment and its current ReplicaSet."""
    specs = containers or [container(image=image)]
    ready = replicas if ready is None else ready
    return [
        deployment(
            app,
            containers=specs,
            replicas=replicas,
            status={
                "observedGeneration": 4,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
            },
        ),
        replicaset(
            f"{app}-{template_hash}",
            deployment_name=app,
            template_hash=template_hash,
            containers=specs,
            replicas=replicas,
            status=rs_status if rs_status is not None else replicaset_status(replicas, ready),
        ),
    ]


def healthy_environment() -> list[Obj]:
    """Three ready web pods behind a Service, a bound PVC, a quota with room, ready nodes."""
    image = f"{REGISTRY}/web:v1.4.2"
    objects: list[Obj] = web_workload(image)
    names = []
    for i in range(3):
        status = pod_status(
            containers=[container_status(image=image, image_id=f"{REGISTRY}/web@{digest(image)}")],
            pod_ip=f"172.20.1.{20 + i}",
        )
        p = web_pod(i, containers=[container(image=image, readiness=http_probe("/ready"))], status=status)
        objects.append(p)
        names.append((p["metadata"]["name"], f"172.20.1.{20 + i}"))
        objects.append(
            event(
                p,
                "Scheduled",
                f"Successfully assigned shop/{p['metadata']['name']} to {NODES[i]}",
                type_="Normal",
                component="default-scheduler",
            )
        )
        objects.append(
            event(
                p,
                "Pulled",
                f'Container image "{image}" already present on machine',
                type_="Normal",
                field_path=in_container(),
            )
        )
    # a readiness blip during start-up on a pod that is ready now: not a finding
    objects.append(
        event(
            objects[2],
            "Unhealthy",
            'Readiness probe failed: Get "http://172.20.1.20:8080/ready": '
            "dial tcp 172.20.1.20:8080: connect: connection refused",
            field_path=in_container(),
            first=50,
            last=49,
        )
    )
    objects += [
        service("shop-web"),
        endpoints("shop-web", ready=names),
        pvc("shop-web-data", volume="d-bp1c0ffee0ffee0ffee0"),
        resource_quota(
            hard={"pods": "20", "requests.cpu": "10", "limits.memory": "40Gi"},
            used={"pods": "3", "requests.cpu": "1500m", "limits.memory": "6Gi"},
        ),
        limit_range(max_={"memory": "8Gi"}),
        *(node(n) for n in NODES),
    ]
    return objects


def image_pull_pods(
    count: int = 7, image: str = "shop:v1.4.3", message: str | None = None, *, pulls: int = 5
) -> list[Obj]:
    """`count` new pods of shop-web that cannot pull `image` (default: the tag does not exist)."""
    message = message or (
        f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack image '
        f'"docker.io/library/{image}": failed to resolve reference "docker.io/library/{image}": '
        f"docker.io/library/{image}: not found"
    )
    objects: list[Obj] = []
    for i in range(count):
        reason = "ErrImagePull" if i == count - 1 else "ImagePullBackOff"
        waiting_message = message if reason == "ErrImagePull" else f'Back-off pulling image "{image}"'
        status = pod_status(
            "Pending",
            containers=[container_status(image=image, state=waiting(reason, waiting_message), ready=False)],
        )
        p = web_pod(
            i, template_hash="5c8d7f9b4", containers=[container(image=image)], status=status, created=8
        )
        objects += [
            p,
            event(
                p,
                "Pulling",
                f'Pulling image "{image}"',
                count=pulls,
                type_="Normal",
                field_path=in_container(),
            ),
            event(p, "Failed", message, count=pulls, field_path=in_container()),
            event(p, "Failed", "Error: ErrImagePull", count=pulls, field_path=in_container()),
            event(
                p,
                "BackOff",
                f'Back-off pulling image "{image}"',
                count=pulls * 4,
                type_="Normal",
                field_path=in_container(),
            ),
            event(p, "Failed", "Error: ImagePullBackOff", count=pulls * 4, field_path=in_container()),
        ]
    return objects


def crash_loop_pods(
    count: int = 3,
    *,
    exit_code: int = 1,
    restarts: int = 12,
    reason: str = "Error",
    statefulset_name: str = "",
) -> list[Obj]:
    objects: list[Obj] = []
    for i in range(count):
        cs = container_status(
            "db" if statefulset_name else "web",
            state=waiting(
                "CrashLoopBackOff",
                f"back-off 5m0s restarting failed container=web pod=shop-web-{i}_shop(0f1e2d3c-{i})",
            ),
            last_state=terminated(exit_code, reason, finished=1.5, ran=0.1),
            ready=False,
            restarts=restarts,
        )
        if statefulset_name:
            p = pod(
                f"{statefulset_name}-{i}",
                labels={
                    "app": statefulset_name,
                    "statefulset.kubernetes.io/pod-name": f"{statefulset_name}-{i}",
                },
                owner=("StatefulSet", statefulset_name),
                containers=[container("db", f"{REGISTRY}/db:5.7")],
                status=pod_status(containers=[cs]),
            )
            field = in_container("db")
        else:
            p = web_pod(i, status=pod_status(containers=[cs]))
            field = in_container()
        name = p["metadata"]["name"]
        objects += [
            p,
            event(
                p,
                "BackOff",
                f"Back-off restarting failed container web in pod {name}_shop(uid)",
                count=restarts * 4,
                field_path=field,
            ),
        ]
    return objects


def oom_pods(
    count: int = 2, *, limit: str = "2Gi", xmx: str = "-Xmx3g", reason: str = "OOMKilled"
) -> list[Obj]:
    image = f"{REGISTRY}/order-service:v2.0.1"
    spec = container(
        "java",
        image,
        memory_request="1Gi",
        memory_limit=limit,
        env={"JAVA_OPTS": f"-server {xmx} -Xms1g -XX:+UseG1GC", "SPRING_PROFILES_ACTIVE": "prod"},
    )
    objects: list[Obj] = []
    for i in range(count):
        cs = container_status(
            "java",
            image,
            state=waiting("CrashLoopBackOff", "back-off 2m40s restarting failed container=java"),
            last_state=terminated(137, reason, finished=3, ran=2),
            ready=False,
            restarts=6,
        )
        p = web_pod(
            i,
            app="order-service",
            template_hash="66b4f7c9d8",
            containers=[spec],
            status=pod_status(containers=[cs]),
        )
        objects.append(p)
    return objects


def liveness_pods(count: int = 2) -> list[Obj]:
    """A liveness probe that keeps killing the container (the doc's liveness-pod)."""
    spec = container(liveness=http_probe("/healthz"), readiness=http_probe("/healthz"))
    objects: list[Obj] = []
    for i in range(count):
        ip = f"172.20.1.{40 + i}"
        cs = container_status(
            state=running(1),
            last_state=terminated(137, "Error", finished=1.2, ran=0.6),
            ready=False,
            restarts=4,
        )
        p = web_pod(i, containers=[spec], status=pod_status(containers=[cs], pod_ip=ip))
        objects += [
            p,
            event(
                p,
                "Unhealthy",
                f'Liveness probe failed: Get "http://{ip}:8080/healthz": dial tcp {ip}:8080: '
                "connect: connection refused",
                count=12,
                field_path=in_container(),
            ),
            event(
                p,
                "Unhealthy",
                f'Readiness probe failed: Get "http://{ip}:8080/healthz": dial tcp {ip}:8080: '
                "connect: connection refused",
                count=85,
                field_path=in_container(),
            ),
            event(
                p,
                "Killing",
                "Container web failed liveness probe, will be restarted",
                count=4,
                type_="Normal",
                field_path=in_container(),
            ),
        ]
    return objects


def readiness_pods(count: int = 2) -> list[Obj]:
    spec = container(readiness=http_probe("/ready", initial_delay=10, period=5))
    objects: list[Obj] = []
    for i in range(count):
        cs = container_status(state=running(30), ready=False)
        p = web_pod(i, containers=[spec], status=pod_status(containers=[cs]))
        objects += [
            p,
            event(
                p,
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                count=340,
                field_path=in_container(),
            ),
        ]
    return objects


def config_missing_pods(count: int = 3, configmap: str = "shop-config") -> list[Obj]:
    spec = container(env_from_configmap=configmap)
    objects: list[Obj] = []
    for i in range(count):
        cs = container_status(
            state=waiting("CreateContainerConfigError", f'configmap "{configmap}" not found'), ready=False
        )
        p = web_pod(i, containers=[spec], status=pod_status("Pending", containers=[cs]))
        objects += [
            p,
            event(
                p, "Failed", f'Error: configmap "{configmap}" not found', count=9, field_path=in_container()
            ),
        ]
    return objects


def secret_volume_pod(secret: str = "shop-tls") -> list[Obj]:
    """A pod whose Secret volume cannot be mounted: ContainerCreating with FailedMount events."""
    p = web_pod(
        5,
        containers=[container(mounts={"tls": "/etc/tls"})],
        volumes=[{"name": "tls", "secret": {"secretName": secret, "defaultMode": 420}}],
        status=pod_status(
            "Pending", containers=[container_status(state=waiting("ContainerCreating"), ready=False)]
        ),
    )
    return [
        p,
        event(
            p,
            "FailedMount",
            f'MountVolume.SetUp failed for volume "tls" : secret "{secret}" not found',
            count=6,
        ),
        event(
            p,
            "FailedMount",
            "Unable to attach or mount volumes: unmounted volumes=[tls], unattached volumes=[tls "
            "kube-api-access-9xk2d]: timed out waiting for the condition",
            count=2,
        ),
    ]


INSUFFICIENT_CPU = (
    "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
    "3 No preemption victims found for incoming pod."
)
NODE_SELECTOR = (
    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
    "available: 3 Preemption is not helpful for scheduling."
)
TAINTS = (
    "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/3 nodes are "
    "available: 3 Preemption is not helpful for scheduling."
)
NO_NODES = "no nodes available to schedule pods"


def pending_pods(
    count: int,
    message: str,
    *,
    start: int = 10,
    node_selector: Mapping[str, str] | None = None,
    cpu: str = "2",
) -> list[Obj]:
    """`count` pods the scheduler cannot place, with `message` in their condition and events."""
    objects: list[Obj] = []
    for i in range(count):
        p = web_pod(
            start + i,
            node=None,
            containers=[container(cpu_request=cpu, memory_request="4Gi", memory_limit="4Gi")],
            node_selector=node_selector,
            status=pod_status("Pending", scheduled=False, unschedulable_message=message, pod_ip=None),
        )
        objects += [p, event(p, "FailedScheduling", message, count=14, component="default-scheduler")]
    return objects


def quota_refusal(used_pods: str = "10") -> list[Obj]:
    message = (
        'Error creating: pods "shop-web-5c8d7f9b4-" is forbidden: exceeded quota: compute-resources, '
        f"requested: pods=1, used: pods={used_pods}, limited: pods=10"
    )
    rs = replicaset(
        "shop-web-5c8d7f9b4",
        template_hash="5c8d7f9b4",
        replicas=4,
        status=replicaset_status(0, failure=message),
    )
    return [
        rs,
        event(rs, "FailedCreate", message, count=15, component="replicaset-controller"),
        resource_quota(
            hard={"pods": "10", "requests.cpu": "8", "limits.memory": "32Gi"},
            used={"pods": used_pods, "requests.cpu": "5", "limits.memory": "20Gi"},
        ),
    ]


def limit_range_refusal() -> list[Obj]:
    message = (
        'Error creating: pods "gateway-764140025-" is forbidden: [maximum memory usage per Pod is 100Mi, but '
        "request is 5368709120., maximum memory usage per Container is 100Mi, but request is 5Gi.]"
    )
    rs = replicaset(
        "gateway-764140025",
        deployment_name="gateway",
        template_hash="764140025",
        replicas=1,
        status=replicaset_status(0),
    )
    return [
        rs,
        event(rs, "FailedCreate", message, count=15, component="replicaset-controller"),
        limit_range(max_={"memory": "100Mi"}),
    ]


def multi_attach_pod() -> list[Obj]:
    p = pod(
        "shop-db-0",
        labels={"app": "shop-db"},
        owner=("StatefulSet", "shop-db"),
        node=NODES[1],
        containers=[container("db", f"{REGISTRY}/db:5.7", mounts={"data": "/var/lib/mysql"})],
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-shop-db-0"}}],
        status=pod_status(
            "Pending",
            containers=[
                container_status("db", f"{REGISTRY}/db:5.7", state=waiting("ContainerCreating"), ready=False)
            ],
        ),
    )
    return [
        p,
        pvc("data-shop-db-0", volume="d-bp1d15c0ffee0001"),
        event(
            p,
            "FailedAttachVolume",
            'Multi-Attach error for volume "d-bp1d15c0ffee0001" Volume is already '
            "exclusively attached to one node and can't be attached to another",
            count=3,
            component="attachdetach-controller",
        ),
    ]


def pending_pvc() -> list[Obj]:
    claim = pvc("shop-uploads", storage_class="alicloud-nas", size="100Gi", phase="Pending", created=40)
    return [
        claim,
        event(
            claim,
            "ExternalProvisioning",
            "waiting for a volume to be created, either by external provisioner "
            '"nasplugin.csi.alibabacloud.com" or manually created by system administrator',
            count=162,
            type_="Normal",
            component="persistentvolume-controller",
        ),
    ]


def evicted_pods(count: int = 3) -> list[Obj]:
    objects: list[Obj] = []
    for i in range(count):
        status = pod_status(
            "Failed",
            containers=[
                container_status(state=terminated(137, "ContainerStatusUnknown", finished=90), ready=False)
            ],
            reason="Evicted",
            message=(
                "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8Gi. "
                "Container web was using 12Gi, request is 0, has larger consumption of ephemeral-storage. "
            ),
        )
        objects.append(web_pod(20 + i, node_index=1, status=status))
    return objects


PLEG = (
    "container runtime is down, PLEG is not healthy: pleg was last seen active 3m5.2s ago; threshold is 3m0s"
)


def not_ready_node() -> list[Obj]:
    return [
        node(NODES[0]),
        node(NODES[1], ready="False", reason="KubeletNotReady", message=PLEG, since=12),
        node(NODES[2]),
    ]


def stuck_pod(minutes: float = 20) -> list[Obj]:
    status = pod_status(containers=[container_status(ready=False)])
    return [web_pod(30, status=status, deleted_minutes_ago=minutes, node_index=1)]


def hook_failed_pods(count: int = 2) -> list[Obj]:
    spec = container(post_start=["/bin/sh", "-c", "/app/warmup.sh"])
    objects: list[Obj] = []
    for i in range(count):
        cs = container_status(
            state=waiting("CrashLoopBackOff", "back-off 40s restarting failed container=web"),
            last_state=terminated(137, "Error", finished=1),
            ready=False,
            restarts=3,
        )
        p = web_pod(i, containers=[spec], status=pod_status(containers=[cs]))
        name = p["metadata"]["name"]
        objects += [
            p,
            event(
                p,
                "FailedPostStartHook",
                "Exec lifecycle hook ([/bin/sh -c /app/warmup.sh]) for Container "
                f'"web" in Pod "{name}_shop(0b5c-{i})" failed - error: command \'/bin/sh -c /app/warmup.sh\' '
                'exited with 126: , message: ""',
                count=3,
                field_path=in_container(),
            ),
            event(p, "Killing", "FailedPostStartHook", count=3, type_="Normal", field_path=in_container()),
        ]
    return objects


def stale_image_pods(image: str = f"{REGISTRY}/web:v1.4.2") -> list[Obj]:
    repo = image.rsplit(":", 1)[0]
    objects: list[Obj] = []
    for i in range(3):
        pushed = "first push" if i < 2 else "second push"
        cs = container_status(image=image, image_id=f"{repo}@{digest(image + pushed)}")
        objects.append(web_pod(i, containers=[container(image=image)], status=pod_status(containers=[cs])))
    return objects


def unready_service() -> list[Obj]:
    """shop-web Service whose pods all fail readiness: Endpoints only has notReadyAddresses."""
    pods = readiness_pods(2)
    names = [
        (o["metadata"]["name"], f"172.20.1.{50 + i}")
        for i, o in enumerate(x for x in pods if x["kind"] == "Pod")
    ]
    return [*pods, service("shop-web"), endpoints("shop-web", not_ready=names)]


def kruise_rollout(name: str = "shop-web", workload: str = "shop-web", *, namespace: str = NS) -> Obj:
    """An OpenKruise Rollout driving Deployment `workload` in three canary batches."""
    return {
        "apiVersion": "rollouts.kruise.io/v1beta1",
        "kind": "Rollout",
        "metadata": meta(name, "Rollout", namespace=namespace),
        "spec": {
            "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload},
            "strategy": {
                "canary": {
                    "steps": [{"replicas": 1, "pause": {}}, {"replicas": "50%"}, {"replicas": "100%"}],
                }
            },
        },
    }


def _claim_pod(message: str, *, pod_name: str = "shop-db-0", claim: str = "data-shop-db-0") -> Obj:
    """A StatefulSet pod with one PVC volume that the scheduler will not place, saying `message`."""
    return pod(
        pod_name,
        labels={"app": "shop-db"},
        owner=("StatefulSet", "shop-db"),
        node=None,
        containers=[container("db", f"{REGISTRY}/db:5.7", mounts={"data": "/var/lib/mysql"})],
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        status=pod_status("Pending", scheduled=False, unschedulable_message=message, pod_ip=None),
    )


def missing_claim_pod() -> list[Obj]:
    message = 'persistentvolumeclaim "data-shop-db-0" not found'
    p = _claim_pod(message)
    return [p, event(p, "FailedScheduling", message, count=9, component="default-scheduler")]


def volume_zone_conflict_pod() -> list[Obj]:
    message = "0/3 nodes are available: 3 node(s) had volume node affinity conflict."
    p = _claim_pod(message)
    return [
        p,
        pvc("data-shop-db-0", volume="d-bp1d15c0ffee0002"),
        event(p, "FailedScheduling", message, count=21, component="default-scheduler"),
    ]


def missing_storage_class_pvc() -> list[Obj]:
    claim = pvc("shop-data", storage_class="alicloud-ssd-fast", phase="Pending", created=20)
    return [
        claim,
        event(
            claim,
            "ProvisioningFailed",
            'storageclass.storage.k8s.io "alicloud-ssd-fast" not found',
            count=64,
            component="persistentvolume-controller",
        ),
    ]


def run_container_error_pods(count: int = 2) -> list[Obj]:
    message = (
        "failed to create containerd task: OCI runtime create failed: container_linux.go:380: starting "
        'container process caused: exec: "/app/start.sh": stat /app/start.sh: '
        "no such file or directory: unknown"
    )
    objects: list[Obj] = []
    for i in range(count):
        cs = container_status(
            state=waiting("RunContainerError", message),
            last_state=terminated(128, "StartError", finished=1.0, ran=0.0),
            ready=False,
            restarts=6,
        )
        p = web_pod(i, status=pod_status(containers=[cs]))
        objects += [p, event(p, "Failed", f"Error: {message}", count=6, field_path=in_container())]
    return objects


def two_containers_crashing_pod() -> list[Obj]:
    statuses = [
        container_status(
            name,
            state=waiting("CrashLoopBackOff", f"back-off 5m0s restarting failed container={name}"),
            last_state=terminated(1, "Error", finished=1.5, ran=0.1),
            ready=False,
            restarts=9,
        )
        for name in ("web", "sidecar")
    ]
    containers = [container("web", f"{REGISTRY}/web:v1.4.2"), container("sidecar", f"{REGISTRY}/proxy:1.0")]
    return [web_pod(0, containers=containers, status=pod_status(containers=statuses))]


# ---------------------------------------------------------------- release-order actions


def kruise_rollout_at(
    batch: int,
    state: str,
    *,
    name: str = "shop-web",
    workload: str = "shop-web",
    workload_kind: str = "Deployment",
    namespace: str = NS,
    canary_revision: str = "5c8d7f9b4",
    paused: bool = False,
    minutes_ago: float = 2,
    api_version: str = "rollouts.kruise.io/v1beta1",
) -> Obj:
    """`kruise_rollout` in the middle of a release: at `batch` (1-based) in step state `state`."""
    rollout = kruise_rollout(name, workload, namespace=namespace)
    rollout["apiVersion"] = api_version
    rollout["spec"]["workloadRef"]["kind"] = workload_kind
    if api_version.endswith("/v1alpha1"):
        rollout["spec"]["objectRef"] = {"workloadRef": rollout["spec"].pop("workloadRef")}
    if paused:
        rollout["spec"]["strategy"]["paused"] = True
    rollout["status"] = {
        "observedGeneration": 1,
        "phase": "Progressing",
        "canaryStatus": {
            "currentStepIndex": batch,
            "currentStepState": state,
            "canaryRevision": canary_revision,
            "podTemplateHash": canary_revision,
            "canaryReplicas": batch,
            "canaryReadyReplicas": batch,
            "lastUpdateTime": ts(minutes_ago),
        },
        "conditions": [
            {
                "type": "Progressing",
                "status": "True",
                "reason": "InRolling",
                "lastUpdateTime": ts(minutes_ago),
                "lastTransitionTime": ts(minutes_ago),
            }
        ],
    }
    return rollout


def crashing_web_pod(index: int, template_hash: str) -> Obj:
    """Pod `index` of shop-web's ReplicaSet shop-web-<template_hash>, in CrashLoopBackOff."""
    cs = container_status("web", state=waiting("CrashLoopBackOff", "back-off 5m0s"), ready=False, restarts=6)
    return web_pod(index, template_hash=template_hash, status=pod_status(containers=[cs]))


def controller_revision(sts_name: str, revision: int, image: str, *, namespace: str = NS) -> Obj:
    """A StatefulSet ControllerRevision as the controller writes it: `data` is the template patch."""
    labels = {"app": sts_name, "controller-revision-hash": f"{sts_name}-{suffix(image, 10)}"}
    template = pod_template({"app": sts_name}, [container("db", image)])
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": meta(
            f"{sts_name}-{suffix(image, 10)}",
            "ControllerRevision",
            namespace=namespace,
            labels=labels,
            owner=("StatefulSet", sts_name),
        ),
        "revision": revision,
        "data": {"spec": {"template": {**template, "$patch": "replace"}}},
    }


def statefulset_at(revisions: Sequence[Obj], *, name: str = "shop-db", replicas: int = 2) -> Obj:
    """StatefulSet `name` whose template and updateRevision are the last of `revisions`."""
    current = revisions[-1]
    image = current["data"]["spec"]["template"]["spec"]["containers"][0]["image"]
    sts = statefulset(name, containers=[container("db", image)], replicas=replicas)
    sts["status"] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "readyReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": current["metadata"]["name"],
        "updateRevision": current["metadata"]["name"],
    }
    return sts


def argo_rollout_with_history(
    images: Sequence[str], *, name: str = "shop-web", namespace: str = NS, abort: bool = False
) -> list[Obj]:
    """An Argo Rollout at the last of `images` and one ReplicaSet per image (revision 1, 2, ...)."""
    labels = {"app": name}
    hashes = [suffix(image, 9) for image in images]
    rollout: Obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": meta(name, "Rollout", namespace=namespace, labels=labels),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": pod_template(labels, [container(image=images[-1])]),
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
        },
        "status": {
            "phase": "Degraded" if abort else "Healthy",
            "currentPodHash": hashes[-1],
            "stableRS": hashes[-1],
            "currentStepIndex": 2,
            **({"abort": True, "abortedAt": ts(3)} if abort else {}),
        },
    }
    sets: list[Obj] = []
    for revision, (image, pod_hash) in enumerate(zip(images, hashes, strict=True), start=1):
        set_labels = {**labels, "rollouts-pod-template-hash": pod_hash}
        rs = replicaset(f"{name}-{pod_hash}", namespace=namespace, containers=[container(image=image)])
        rs["metadata"]["labels"] = set_labels
        rs["metadata"]["annotations"] = {"rollout.argoproj.io/revision": str(revision)}
        rs["metadata"]["ownerReferences"][0].update(apiVersion="argoproj.io/v1alpha1", kind="Rollout")
        rs["spec"]["selector"] = {"matchLabels": set_labels}
        rs["spec"]["template"] = pod_template(set_labels, [container(image=image)])
        sets.append(rs)
    return [rollout, *sets]


def gated_pods(count: int = 2) -> list[Obj]:
    """Containers running and ready, but a readiness gate unmet for 15 minutes and nothing a rule
    knows: the cluster's own words (a Warning event) are all there is."""
    objects: list[Obj] = []
    for i in range(count):
        p = web_pod(i, status=pod_status(containers=[container_status()]))
        for condition in p["status"]["conditions"]:
            if condition["type"] == "Ready":
                condition.update(status="False", reason="ReadinessGatesNotReady", lastTransitionTime=ts(15))
                condition["message"] = (
                    'corresponding condition of pod readiness gate "target-health" does not exist.'
                )
        objects.append(p)
    objects.append(
        event(
            objects[0],
            "Unhealthy",
            "Target group health check failed for 10.0.1.15:8080",
            count=30,
            component="alb-ingress",
        )
    )
    return objects


def failed_create_replicaset() -> list[Obj]:
    rs = replicaset(
        "shop-web-5c8d7f9b4",
        template_hash="5c8d7f9b4",
        revision=4,
        replicas=2,
        status={"replicas": 0, "observedGeneration": 1},
    )
    return [
        deployment(replicas=2, revision=4),
        rs,
        event(
            rs,
            "FailedCreate",
            'Error creating: pods "shop-web-5c8d7f9b4-" is forbidden: error looking up service account '
            'shop/shop-runner: serviceaccount "shop-runner" not found',
            count=17,
            component="replicaset-controller",
        ),
    ]


def memory_pressure_node() -> list[Obj]:
    return [
        node(NODES[0], pressure=["MemoryPressure"]),
        web_pod(0, status=pod_status(containers=[container_status()])),
    ]
