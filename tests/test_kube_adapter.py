"""The Kubernetes adapter against a real kube-apiserver (and a slow fake for timing behaviour)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.kube import CORE_LISTS, KubeClient, fetch_snapshot
from bot.domain.environments import Environment
from bot.errors import ClusterError, ClusterForbidden, ClusterUnauthorized, ClusterUnreachable
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip

NAMESPACE_READ_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "verbs": ["list"],
        "resources": [
            "pods",
            "events",
            "services",
            "endpoints",
            "persistentvolumeclaims",
            "resourcequotas",
            "limitranges",
        ],
    },
    {
        "apiGroups": ["apps"],
        "verbs": ["list"],
        "resources": ["deployments", "statefulsets", "replicasets", "controllerrevisions"],
    },
    {"apiGroups": ["argoproj.io", "rollouts.kruise.io"], "verbs": ["list"], "resources": ["rollouts"]},
]


def pod(namespace: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "web", "image": "registry.example.com/shop/web:v1.4.3"}]},
        "status": {"phase": "Running"},
    }


def snapshot_of(client: KubeClient, namespace: str, selector: str = "") -> Any:
    return asyncio.run(
        fetch_snapshot(client, Environment(name="shop", namespace=namespace, selector=selector))
    )


def bot_client() -> KubeClient:
    kubeconfig_or_skip()
    return KubeClient.connect(kubeconfig=kubeconfig_or_skip(BOT_KUBECONFIG_VAR))


def test_snapshot_costs_the_same_calls_for_1_or_40_pods(cluster: Cluster) -> None:
    counts, rollout_crds = [], 0
    for n in (1, 40):
        ns = cluster.namespace()
        for i in range(n):
            cluster.create(pod(ns, f"web-{i}", {"app": "web"}))
        cluster.create(pod(ns, "other", {"app": "other"}))
        client = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
        snap = snapshot_of(client, ns, "app=web")
        assert len(snap.pods) == n  # the selector applies
        assert not snap.unavailable
        counts.append(client.calls)
        rollout_crds = len(client.rollout_lists())  # cached discovery: no extra call
        assert client.calls == counts[-1]
        again = client.calls
        snapshot_of(client, ns, "app=web")
        assert client.calls - again == counts[-1] - 1  # discovery is cached between inspections
        client.close()
    # the core lists, one per installed Rollout CRD, one discovery call per 5 minutes
    assert counts[0] == counts[1] == len(CORE_LISTS) + rollout_crds + 1


def test_events_come_from_one_namespace_list(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.create(pod(ns, "web-1", {"app": "web"}))
    for i in range(5):
        cluster.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"web-1.{i}", "namespace": ns},
                "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": ns},
                "reason": "BackOff",
                "message": "Back-off restarting failed container",
                "type": "Warning",
                "count": 3 + i,
                "source": {"component": "kubelet"},
            }
        )
    client = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    snap = snapshot_of(client, ns)
    assert sorted(e["count"] for e in snap.events) == [3, 4, 5, 6, 7]


def test_no_rights_at_all_is_a_clear_forbidden_error(cluster: Cluster) -> None:
    ns = cluster.namespace()
    with pytest.raises(ClusterForbidden) as caught:
        snapshot_of(bot_client(), ns)
    message = str(caught.value)
    assert "list pods" in message and ns in message and "Role" in message and "403" in message


def test_namespace_rights_without_nodes_still_inspect_and_say_what_is_missing(cluster: Cluster) -> None:
    ns = cluster.namespace()
    cluster.create(pod(ns, "web-1", {"app": "web"}))
    cluster.grant(ns, "deploybot", NAMESPACE_READ_RULES)
    snap = snapshot_of(bot_client(), ns)
    assert [p["metadata"]["name"] for p in snap.pods] == ["web-1"]
    assert set(snap.unavailable) == {"nodes"}
    assert "list nodes (cluster-wide)" in snap.unavailable["nodes"]


def test_argo_and_kruise_rollouts_are_read_only_once_their_crds_exist(cluster: Cluster) -> None:
    ns = cluster.namespace()
    client = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    before = snapshot_of(client, ns)
    if "argoproj.io" not in client.api_groups():  # a fresh kube-local: not installed is not an error
        assert before.argo_rollouts == () and "argo_rollouts" not in before.unavailable
    for group, version in (("argoproj.io", "v1alpha1"), ("rollouts.kruise.io", "v1beta1")):
        install_rollout_crd(cluster, group, version)
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}},
    }
    cluster.create(rollout)
    cluster.set_status(rollout, {"phase": "Paused", "currentStepIndex": 1})
    kruise = {
        "apiVersion": "rollouts.kruise.io/v1beta1",
        "kind": "Rollout",
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"}},
    }
    cluster.create(kruise)
    fresh = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    after = snapshot_of(fresh, ns)
    assert [r["status"]["phase"] for r in after.argo_rollouts] == ["Paused"]
    assert [r["metadata"]["name"] for r in after.kruise_rollouts] == ["shop"]


def install_rollout_crd(k8s: Cluster, group: str, version: str) -> None:
    name = f"rollouts.{group}"
    try:
        k8s.admin.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    except ClusterError:  # 404: not installed yet
        k8s.create(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": name},
                "spec": {
                    "group": group,
                    "scope": "Namespaced",
                    "names": {"plural": "rollouts", "singular": "rollout", "kind": "Rollout"},
                    "versions": [
                        {
                            "name": version,
                            "served": True,
                            "storage": True,
                            "subresources": {"status": {}},
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    ],
                },
            }
        )
    k8s.wait_for_group(group, version)
    k8s.kinds[f"Rollout@{group}/{version}"] = (f"/apis/{group}/{version}", "rollouts", True)


def test_bad_token_is_unauthorized(tmp_path: Path) -> None:
    config = yaml.safe_load(Path(kubeconfig_or_skip()).read_text())
    config["users"][0]["user"] = {"token": "not-a-token"}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ClusterUnauthorized, match="401"):
        snapshot_of(KubeClient.connect(kubeconfig=str(path)), "default")


def fake_kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
            }
        )
    )
    return str(path)


def test_unreachable_api_server_is_named_not_a_traceback(tmp_path: Path) -> None:
    client = KubeClient.connect(kubeconfig=fake_kubeconfig(tmp_path, "http://127.0.0.1:9"))
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable, match=r"cannot reach the Kubernetes API at http://127\.0\.0\.1:9"):
        snapshot_of(client, "shop")
    assert time.monotonic() - started < 10


class SlowApi(BaseHTTPRequestHandler):
    """Every list answers empty after a delay: a slow cluster, in process."""

    delay = 0.4

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = json.dumps({"groups": []} if self.path == "/apis" else {"items": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        """Like the real API server: a dry-run create (the namespace probe) echoes the object."""
        time.sleep(self.delay)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_calls_run_concurrently_and_leave_the_event_loop_free(tmp_path: Path, slow_api: str) -> None:
    client = KubeClient.connect(kubeconfig=fake_kubeconfig(tmp_path, slow_api))

    async def scenario() -> tuple[float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        beat = asyncio.create_task(ticker())
        started = time.monotonic()
        await fetch_snapshot(client, Environment(name="shop", namespace="shop"))
        elapsed = time.monotonic() - started
        beat.cancel()
        return elapsed, ticks

    elapsed, ticks = asyncio.run(scenario())
    # calls of 0.4 s each: one discovery, then the core lists side by side (~0.8 s, not 5.2 s), then,
    # since every list came back empty, the namespace-existence probe
    assert client.calls == 1 + len(CORE_LISTS) + 1
    assert elapsed < 2.5
    assert ticks > elapsed / 0.01 * 0.5  # the loop kept ticking while the API was slow
