"""Pod logs against a real kube-apiserver: the request passes content negotiation.

kube-local has no kubelet, so a log request cannot succeed; but the API server must get as far
as proxying it to the pod's node, and fail there (the kubelet is unreachable), not at content
negotiation (406: `Accept: text/plain` is not one of the serializers pods/log negotiates).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.adapters.kube import KubeClient
from bot.errors import ClusterError
from tests import k8s_objects as k
from tests.conftest import run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.rbac import chart_rules
from tests.socket_mode_server import free_port
from tests.test_inspect_cli import load


def test_logs_reach_the_kubelet_hop_and_say_it_is_unreachable(cluster: Cluster, tmp_path: Path) -> None:
    bot = kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    ns = cluster.namespace("logs")
    namespaced, _ = chart_rules()
    cluster.grant(ns, "deploybot", namespaced)
    # A node of our own whose kubelet "listens" on a closed local port: the API server dials it
    # and is refused at once (the shared test nodes have addresses that do not resolve here).
    kubelet_port = free_port()
    node = k.node(f"deploybot-logs-{uuid.uuid4().hex[:6]}")
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        node["metadata"].pop(key, None)
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "127.0.0.1"}]
    node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
    cluster.create(node)
    try:
        objects = k.crash_loop_pods(1)
        for obj in objects:
            if obj["kind"] == "Pod":
                obj["spec"]["nodeName"] = node["metadata"]["name"]
        load(cluster, ns, objects)
        pod = k.web_pod_name(0)
        config = tmp_path / "deploybot.yaml"
        config.write_text(f"environments:\n  shop-prod:\n    namespace: {ns}\n")
        env = {
            "KUBECONFIG": bot,
            "DEPLOYBOT_DATA_DIR": str(tmp_path / "data"),
            "DEPLOYBOT_CONFIG": str(config),
        }
        done = run_cli("act", "shop-prod", "logs", pod, "--previous", "--as", "U0READER", env=env)

        assert done.returncode == 1, done.stdout + done.stderr
        message = done.stderr.strip()
        assert "406" not in message and "media types" not in message  # negotiation passed
        assert f"could not reach the kubelet at 127.0.0.1:{kubelet_port}" in message
        assert "connection refused" in message and "pods/log" in message
        assert "Traceback" not in done.stderr and len(message.splitlines()) == 1

        # ...and this API server does negotiate: the Accept deploybot used to send is refused
        client = KubeClient.connect(kubeconfig=bot)
        try:
            with pytest.raises(ClusterError, match=r"\(406\).*only the following media types"):
                client._call(
                    "GET", f"/api/v1/namespaces/{ns}/pods/{pod}/log", accept="text/plain", what="get"
                )
        finally:
            client.close()
    finally:
        cluster.delete(node)
