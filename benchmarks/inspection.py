"""How an inspection scales: 1,000 pods and 5,000 events.

    python benchmarks/inspect.py                       # in process: release orders + diagnosis
    python benchmarks/inspect.py --kubeconfig FILE     # also load them into a real API server
                                                       # (kube-local) and time the snapshot

Prints API calls, wall times and peak memory; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.domain import diagnosis, releases
from bot.domain.snapshot import Snapshot

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
REASONS = [
    ("CrashLoopBackOff", "Back-off restarting failed container", "BackOff"),
    ("ImagePullBackOff", 'Failed to pull image "shop/web:v9": manifest unknown', "Failed"),
    (None, "Readiness probe failed: HTTP probe failed with statuscode: 503", "Unhealthy"),
    (None, None, None),
]


def stamp(delta_s: int) -> str:
    return (NOW - timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_objects(namespace: str, pods: int, events: int) -> dict[str, list[dict[str, Any]]]:
    deployments, replicasets, pod_list, event_list = [], [], [], []
    for d in range(pods // 50):
        name = f"svc{d}"
        deployments.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "generation": 2,
                    "resourceVersion": "10",
                    "annotations": {"deployment.kubernetes.io/revision": "2"},
                    "creationTimestamp": stamp(9000),
                    "labels": {"app": name},
                },
                "spec": {
                    "replicas": 50,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "web", "image": f"shop/{name}:v2"}]},
                    },
                },
                "status": {
                    "observedGeneration": 2,
                    "replicas": 50,
                    "updatedReplicas": 50,
                    "readyReplicas": 40,
                    "availableReplicas": 40,
                },
            }
        )
        for rev in (1, 2):
            replicasets.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"{name}-{rev}",
                        "namespace": namespace,
                        "creationTimestamp": stamp(9000 - rev),
                        "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "name": name,
                                "uid": str(uuid.uuid4()),
                                "controller": True,
                            }
                        ],
                    },
                    "spec": {
                        "replicas": 50 if rev == 2 else 0,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {"containers": [{"name": "web", "image": f"shop/{name}:v{rev}"}]},
                        },
                    },
                }
            )
    for i in range(pods):
        owner = f"svc{i // 50}"
        waiting, message, _ = REASONS[i % len(REASONS)]
        state: dict[str, Any] = (
            {"waiting": {"reason": waiting, "message": message}}
            if waiting
            else {"running": {"startedAt": stamp(600)}}
        )
        pod_list.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{owner}-2-{i:05d}",
                    "namespace": namespace,
                    "labels": {"app": owner},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": f"{owner}-2",
                            "uid": str(uuid.uuid4()),
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    "nodeName": f"node-{i % 20}",
                    "containers": [{"name": "web", "image": f"shop/{owner}:v2"}],
                },
                "status": {
                    "phase": "Running" if not waiting else "Pending",
                    "containerStatuses": [
                        {
                            "name": "web",
                            "image": f"shop/{owner}:v2",
                            "imageID": "",
                            "ready": not waiting,
                            "restartCount": 7 if waiting == "CrashLoopBackOff" else 0,
                            "state": state,
                        }
                    ],
                },
            }
        )
    for e in range(events):
        pod = pod_list[e % pods]
        _, message, reason = REASONS[e % len(REASONS)]
        event_list.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{pod['metadata']['name']}.{e:x}", "namespace": namespace},
                "involvedObject": {"kind": "Pod", "name": pod["metadata"]["name"], "namespace": namespace},
                "reason": reason or "Pulled",
                "message": message or "Container image already present",
                "type": "Warning" if reason else "Normal",
                "count": 1 + e % 9,
                "firstTimestamp": stamp(3000),
                "lastTimestamp": stamp(60),
                "source": {"component": "kubelet"},
            }
        )
    return {"deployments": deployments, "replicasets": replicasets, "pods": pod_list, "events": event_list}


def in_process(objects: dict[str, list[dict[str, Any]]], rounds: int) -> None:
    snapshot = Snapshot(
        environment="bench",
        namespace="bench",
        selector="",
        taken_at=NOW,
        **{k: tuple(v) for k, v in objects.items()},
    )
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        orders = releases.release_orders(snapshot)
        findings = diagnosis.diagnose(snapshot, orders)
        times.append(time.perf_counter() - start)
    tracemalloc.start()  # one traced round for memory: tracing slows everything down
    diagnosis.diagnose(snapshot, releases.release_orders(snapshot))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    print(
        f"diagnosis in process: {len(snapshot.pods)} pods, {len(snapshot.events)} events -> "
        f"{len(orders)} orders, {len(findings)} findings; median {times[len(times) // 2] * 1000:.1f} ms, "
        f"max {times[-1] * 1000:.1f} ms; peak extra memory {peak / 1e6:.1f} MB"
    )


def against_cluster(objects: dict[str, list[dict[str, Any]]], kubeconfig: str, namespace: str) -> None:
    from bot.adapters.kube import KubeClient, fetch_snapshot
    from bot.domain.environments import Environment

    admin = KubeClient.connect(kubeconfig=kubeconfig)
    admin.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    paths = {
        "pods": "/api/v1",
        "events": "/api/v1",
        "deployments": "/apis/apps/v1",
        "replicasets": "/apis/apps/v1",
    }
    start = time.perf_counter()

    def create(kind: str, obj: dict[str, Any]) -> None:
        body = {k: v for k, v in obj.items() if k != "status"}
        body["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
        admin.request("POST", f"{paths[kind]}/namespaces/{namespace}/{kind}", body=body)

    with ThreadPoolExecutor(16) as pool:
        for kind, items in objects.items():
            list(pool.map(lambda o, k=kind: create(k, o), items))
    print(
        f"loaded {sum(map(len, objects.values()))} objects into the API server"
        f" in {time.perf_counter() - start:.0f} s"
    )
    client = KubeClient.connect(kubeconfig=kubeconfig)
    env = Environment(name="bench", namespace=namespace)
    for attempt in ("first (with discovery)", "second"):
        before = client.calls
        start = time.perf_counter()
        snapshot = asyncio.run(fetch_snapshot(client, env))
        fetched = time.perf_counter() - start
        orders = releases.release_orders(snapshot)
        diagnosis.diagnose(snapshot, orders)
        total = time.perf_counter() - start
        print(
            f"inspection {attempt}: {client.calls - before} API calls, snapshot {fetched * 1000:.0f} ms, "
            f"snapshot + diagnosis {total * 1000:.0f} ms"
            f" ({len(snapshot.pods)} pods, {len(snapshot.events)} events)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--kubeconfig", help="admin kubeconfig of a test API server (kube-local)")
    args = parser.parse_args()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    objects = make_objects(namespace, args.pods, args.events)
    in_process(objects, args.rounds)
    if args.kubeconfig:
        against_cluster(objects, args.kubeconfig, namespace)


if __name__ == "__main__":
    main()
