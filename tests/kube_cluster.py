"""A real kube-apiserver for integration tests (../shared/kube-local): setup helpers.

Objects are created with their spec, then their status is written through the `/status`
subresource, as a controller would; no scheduler or kubelet runs, so what a test writes is
what the bot reads.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kube import KubeClient
from bot.errors import ClusterConflict
from tests.needs import need

KUBECONFIG_VAR = "DEPLOYBOT_TEST_KUBECONFIG"
BOT_KUBECONFIG_VAR = "DEPLOYBOT_TEST_BOT_KUBECONFIG"

#: kind -> (API prefix, plural, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Pod": ("/api/v1", "pods", True),
    "Event": ("/api/v1", "events", True),
    "Service": ("/api/v1", "services", True),
    "Endpoints": ("/api/v1", "endpoints", True),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims", True),
    "ResourceQuota": ("/api/v1", "resourcequotas", True),
    "LimitRange": ("/api/v1", "limitranges", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Node": ("/api/v1", "nodes", False),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
}


def kubeconfig_or_skip(var: str = KUBECONFIG_VAR) -> str:
    path = os.environ.get(var)
    if not path or not Path(path).exists():
        need("a Kubernetes API server", f"set {var} (`.ci/run` starts ../shared/kube-local and sets it)")
    return path


class Cluster:
    """Admin access for arranging a test; the bot itself connects with its own identity."""

    def __init__(self, admin: KubeClient) -> None:
        self.admin = admin
        self.kinds = dict(KINDS)

    def path(self, obj: dict[str, Any], *, collection: bool = False) -> str:
        kind = obj["kind"]
        if kind not in self.kinds:
            group_version = obj["apiVersion"]
            plural = kind.lower() + "s"
            self.kinds[kind + "@" + group_version] = (f"/apis/{group_version}", plural, True)
            prefix, plural, namespaced = self.kinds[kind + "@" + group_version]
        else:
            prefix, plural, namespaced = self.kinds[kind]
        if obj["apiVersion"].count("/") == 1 and kind + "@" + obj["apiVersion"] in self.kinds:
            prefix, plural, namespaced = self.kinds[kind + "@" + obj["apiVersion"]]
        ns = obj["metadata"].get("namespace")
        base = f"{prefix}/namespaces/{ns}/{plural}" if namespaced else f"{prefix}/{plural}"
        return base if collection else f"{base}/{obj['metadata']['name']}"

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        status = obj.pop("status", None)
        created = self.admin.request("POST", self.path(obj, collection=True), body=obj, what="create")
        if status is not None:
            obj["status"] = status
            created = self.set_status(obj, status)
        return created

    def ensure(self, obj: dict[str, Any]) -> None:
        """Create a cluster-scoped object, or bring an existing one to this status (nodes are shared)."""
        status = obj.get("status")
        try:
            self.create(obj)
        except ClusterConflict:
            if status is not None:
                self.set_status(obj, status)

    def set_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        return self.admin.request(
            "PATCH",
            self.path(obj) + "/status",
            body={"status": status},
            content_type="application/merge-patch+json",
            what="patch status",
        )

    def get(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.admin.request("GET", self.path(obj), what="get")

    def delete(self, obj: dict[str, Any]) -> None:
        self.admin.request("DELETE", self.path(obj), what="delete")

    def namespace(self, prefix: str = "t") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    def wait_for_group(self, group: str, version: str, timeout: float = 20.0) -> None:
        """A new CRD takes a moment to appear in discovery."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.admin.request("GET", "/apis", what="discover")
            for g in data.get("groups", []):
                if g["name"] == group and any(v["version"] == version for v in g["versions"]):
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{group}/{version} never appeared in discovery")

    def grant(
        self,
        namespace: str,
        user: str,
        rules: list[dict[str, Any]],
        *,
        cluster_rules: list[dict[str, Any]] | None = None,
    ) -> None:
        """Give `user` exactly these rules in `namespace` (and optionally cluster-wide ones)."""
        name = f"grant-{uuid.uuid4().hex[:6]}"
        self.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": name, "namespace": namespace},
                "rules": rules,
            }
        )
        self.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            }
        )
        if cluster_rules:
            self.create(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": {"name": name},
                    "rules": cluster_rules,
                }
            )
            self.create(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": name},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
                }
            )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    admin = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    yield Cluster(admin)
    admin.close()
