"""`deploybot inspect` end to end: real process, real config file, real API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import k8s_objects as k8s
from tests.conftest import REPO, run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.test_kube_adapter import NAMESPACE_READ_RULES


def load(cluster: Cluster, namespace: str, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        obj = json.loads(json.dumps(obj))  # builders may share sub-dicts
        obj["metadata"]["namespace"] = namespace
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            obj["metadata"].pop(key, None)
        if obj["kind"] == "Event":
            obj["involvedObject"]["namespace"] = namespace
            obj["involvedObject"].pop("uid", None)
        for owner in obj["metadata"].get("ownerReferences", []):
            owner["uid"] = "00000000-0000-0000-0000-000000000000"
        if obj["kind"] == "Node":
            cluster.ensure(obj)  # cluster-scoped: shared by the tests
        else:
            cluster.create(obj)


def config(tmp_path: Path, namespace: str, *, selector: str = "") -> Path:
    path = tmp_path / "deploybot.yaml"
    lines = ["environments:", "  shop-prod:", f"    namespace: {namespace}"]
    if selector:
        lines.append(f"    selector: {selector}")
    lines += ["    protected: true", "    operators: [U012ABCDEF]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def inspect(tmp_path: Path, cfg: Path, kubeconfig: str, *args: str) -> Any:
    env = {
        "KUBECONFIG": kubeconfig,
        "DEPLOYBOT_DATA_DIR": str(tmp_path / "data"),
        "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
    }
    return run_cli("inspect", *args, "--config", str(cfg), env=env)


def test_healthy_environment_says_so_in_one_line(cluster: Cluster, tmp_path: Path) -> None:
    ns = cluster.namespace()
    load(cluster, ns, k8s.healthy_environment())
    done = inspect(tmp_path, config(tmp_path, ns), kubeconfig_or_skip(), "shop-prod")
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("shop-prod: healthy")
    assert "pods" in first


def test_json_contract_with_findings_orders_and_knowledge_links(cluster: Cluster, tmp_path: Path) -> None:
    ns = cluster.namespace()
    load(cluster, ns, [*k8s.healthy_environment(), *k8s.image_pull_pods(count=3)])
    done = inspect(tmp_path, config(tmp_path, ns), kubeconfig_or_skip(), "shop-prod", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"environment", "namespace", "summary", "pods", "release_orders", "findings"} <= set(report)
    assert (report["environment"], report["namespace"]) == ("shop-prod", ns)
    codes = [f["code"] for f in report["findings"]]
    assert "ImagePullFailed" in codes
    pull = report["findings"][codes.index("ImagePullFailed")]
    assert pull["severity"] in ("critical", "warning", "info")
    assert pull["title"].startswith("3 pods")
    assert pull["kb"] and all(isinstance(i, str) for i in pull["kb"])
    assert all({"action", "target", "params"} <= set(a) for a in pull["actions"])
    assert report["release_orders"] and {"state", "batch", "batches", "target"} <= set(
        report["release_orders"][0]
    )


def test_unknown_environment_suggests_the_closest(tmp_path: Path) -> None:
    cfg = config(tmp_path, "shop")
    done = inspect(tmp_path, cfg, str(tmp_path / "no-kubeconfig"), "shop-prd")
    assert done.returncode == 2
    assert "no such environment: 'shop-prd'; did you mean shop-prod?" in done.stderr
    assert "Traceback" not in done.stderr


def test_forbidden_is_reported_with_what_to_grant(cluster: Cluster, tmp_path: Path) -> None:
    ns = cluster.namespace()
    done = inspect(tmp_path, config(tmp_path, ns), kubeconfig_or_skip(BOT_KUBECONFIG_VAR), "shop-prod")
    assert done.returncode == 1
    assert "may not list pods" in done.stderr and "Role" in done.stderr
    assert "Traceback" not in done.stderr


def test_nodes_forbidden_still_diagnoses_the_namespace(cluster: Cluster, tmp_path: Path) -> None:
    ns = cluster.namespace()
    load(cluster, ns, k8s.crash_loop_pods())
    cluster.grant(ns, "deploybot", NAMESPACE_READ_RULES)
    bot = kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    done = inspect(tmp_path, config(tmp_path, ns), bot, "shop-prod")
    assert done.returncode == 0, done.stderr
    assert "could not read nodes" in done.stdout
    assert "[CrashLoop]" in done.stdout
    report = json.loads(inspect(tmp_path, config(tmp_path, ns), bot, "shop-prod", "--json").stdout)
    assert "nodes" in report["unavailable"]


def test_unreachable_cluster_is_one_clear_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: x, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: x, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\n"
    )
    done = inspect(tmp_path, config(tmp_path, "shop"), str(kubeconfig), "shop-prod")
    assert done.returncode == 1
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "bad", ["environments:\n  shop-prod: {namespace: shop, colour: red}\n", "environments: [\n"]
)
def test_bad_config_is_named(tmp_path: Path, bad: str) -> None:
    cfg = tmp_path / "deploybot.yaml"
    cfg.write_text(bad)
    done = inspect(tmp_path, cfg, str(tmp_path / "none"), "shop-prod")
    assert done.returncode == 2
    assert "deploybot.yaml" in done.stderr and "Traceback" not in done.stderr
