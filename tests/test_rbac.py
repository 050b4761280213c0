"""The chart's RBAC rules: exactly what the code calls, and enough of it, against a real API server."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.kube import CORE_LISTS, fetch_snapshot
from bot.domain import actions
from bot.domain.actions import ActionRequest
from bot.domain.environments import Environment
from bot.errors import ActionFailed
from bot.rbac import permissions
from tests import k8s_objects as k
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.test_actions_cluster import OPERATOR, KruiseWorld, World
from tests.test_inspect_cli import load

_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)/namespaces/[^/]+/(?P<resource>[^/]+)/[^/]+(?:/(?P<sub>[^/]+))?$"
)
_VERBS = {"GET": "get", "PATCH": "patch", "DELETE": "delete", "POST": "create"}


def argo_rollout() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "shop-web", "namespace": k.NS, "generation": 3, "resourceVersion": "77"},
        "spec": {
            "paused": True,
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
            "template": {"spec": {"containers": [{"name": "web", "image": "shop:v2"}]}},
        },
        "status": {
            "phase": "Paused",
            "currentStepIndex": 1,
            "pauseConditions": [{"reason": "CanaryPauseStep"}],
            "abort": True,
        },
    }


def used_by_the_code() -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every call an inspection and every planned action make."""
    listed = [(spec.group, spec.resource) for spec in CORE_LISTS]
    listed += [("argoproj.io", "rollouts"), ("rollouts.kruise.io", "rollouts")]
    # every list is also watched by serve's cache (bot/adapters/watch_cache.py)
    used = {(group, resource, verb) for group, resource in listed for verb in ("list", "watch")}
    used.add(("", "events", "create"))  # the audit Event of every change
    deployment_world = [*k.web_workload(), *k.crash_loop_pods(1)]
    revisions = [k.controller_revision("shop-db", n, f"db:5.{n}") for n in (6, 7)]
    sts_world = [k.statefulset_at(revisions), *revisions]
    old = k.replicaset("shop-web-old", template_hash="0000", revision=3, replicas=0)
    scenarios: list[tuple[str, dict[str, str], list[dict[str, Any]], str | None]] = [
        ("pause_order", {}, deployment_world, "shop-web"),
        ("close_order", {}, deployment_world, "shop-web"),
        ("rollback_order", {}, [*k.web_workload(), old], "shop-web"),
        ("retry_failed", {}, deployment_world, "shop-web"),
        ("restart", {}, deployment_world, "shop-web"),
        ("scale", {"replicas": "0"}, deployment_world, "shop-web"),
        ("scale", {"replicas": "0"}, [k.statefulset()], "StatefulSet/shop-db"),
        ("delete_pod", {}, deployment_world, k.web_pod_name(0)),
        ("logs", {}, deployment_world, k.web_pod_name(0)),
        ("resume_order", {}, [argo_rollout()], "Rollout/shop-web"),
        ("close_order", {}, [{**argo_rollout(), "status": {"phase": "Paused"}}], "Rollout/shop-web"),
        ("retry_failed", {}, [argo_rollout()], "Rollout/shop-web"),
        ("restart", {}, [argo_rollout()], "Rollout/shop-web"),
        ("rollback_order", {}, k.argo_rollout_with_history(["web:v1", "web:v2"]), "Rollout/shop-web"),
        ("rollback_order", {}, sts_world, "StatefulSet/shop-db"),
        ("restart", {}, sts_world, "StatefulSet/shop-db"),
        ("retry_failed", {}, [*sts_world, *k.crash_loop_pods(1, statefulset_name="shop-db")], "shop-db"),
    ]
    kruise = [
        k.deployment(revision=4),
        k.replicaset("shop-web-old", template_hash="0000", revision=3, replicas=0),
        k.replicaset("shop-web-5c8d7f9b4", template_hash="5c8d7f9b4", revision=4, replicas=1),
        k.crashing_web_pod(0, "5c8d7f9b4"),
    ]
    for action, rollout, params in [
        ("resume_order", k.kruise_rollout_at(1, "StepPaused"), {}),
        ("resume_order", k.kruise_rollout_at(1, "StepPaused", paused=True), {}),
        ("pause_order", k.kruise_rollout_at(2, "StepUpgrade"), {}),
        ("close_order", k.kruise_rollout_at(2, "StepUpgrade"), {}),
        ("rollback_order", k.kruise_rollout_at(2, "StepUpgrade"), {}),
        ("retry_failed", k.kruise_rollout_at(1, "StepUpgrade"), {}),
        ("restart", k.kruise_rollout_at(1, "StepUpgrade"), {}),
        ("scale", k.kruise_rollout_at(1, "StepUpgrade"), {"replicas": "0"}),
    ]:
        scenarios.append((action, params, [*kruise, rollout], "Rollout/shop-web"))
    env = Environment("shop-prod", k.NS)
    for action, params, objects, target in scenarios:
        snapshot = k.snapshot(objects)
        plan = actions.plan(
            ActionRequest("shop-prod", action, target, OPERATOR, params=params), env, snapshot, now=k.NOW
        )
        for op in plan.operations:
            match = _PATH.match(op.path)
            assert match, op.path
            resource = match["resource"] + (f"/{match['sub']}" if match["sub"] else "")
            used.add((match["group"] or "", resource, _VERBS[op.method]))
    return used


def test_the_rules_grant_exactly_what_the_code_uses() -> None:
    granted = {(p.group, p.resource, p.verb) for p in permissions()}
    used = used_by_the_code()
    assert used - granted == set(), "the code calls what the chart does not grant"
    assert granted - used == set(), "the chart grants what the code never calls"


def test_read_only_drops_every_write() -> None:
    writes = {(p.resource, p.verb) for p in permissions() if p.write}
    assert {("deployments", "patch"), ("pods", "delete"), ("events", "create")} <= writes
    assert all(p.verb in ("list", "watch", "get") for p in permissions() if not p.write)


CHANGING = [
    ("scale", {"replicas": "0"}, "shop-web"),
    ("restart", {}, "shop-web"),
    ("pause_order", {}, "shop-web"),
    ("close_order", {}, "shop-web"),
    ("rollback_order", {}, "shop-web"),
    ("retry_failed", {}, "shop-web"),
    ("delete_pod", {}, "POD"),
]


@pytest.mark.parametrize(("action", "params", "target"), CHANGING, ids=[c[0] for c in CHANGING])
def test_read_only_rules_refuse_every_change_with_a_clear_403(
    cluster: Cluster, tmp_path: Path, action: str, params: dict[str, str], target: str
) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = World(cluster, tmp_path, read_only=True)
    load(cluster, world.ns, k.crash_loop_pods(1))
    before = world.web()
    target = k.web_pod_name(0) if target == "POD" else target
    with pytest.raises(ActionFailed, match=r"\(403\): grant `(patch|delete)`"):
        world.act(action, target, **params)
    assert world.web()["spec"] == before["spec"]
    snapshot = asyncio.run(fetch_snapshot(world.client(), world.env))  # inspection still works
    assert snapshot.deployments and "pods" not in snapshot.unavailable


def test_full_rules_let_every_action_through(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = World(cluster, tmp_path)
    load(cluster, world.ns, k.crash_loop_pods(2))
    for action, params, target in [
        ("pause_order", {}, "shop-web"),
        ("resume_order", {}, "shop-web"),
        ("restart", {}, "shop-web"),
        ("retry_failed", {}, "shop-web"),
        ("scale", {"replicas": "0"}, "shop-web"),
        ("restore", {}, "shop-web"),
        ("rollback_order", {}, "shop-web"),
        ("close_order", {}, "shop-web"),
        ("delete_pod", {"force": "true"}, k.web_pod_name(0)),
        ("events", {}, "shop-web"),
    ]:
        result = world.act(action, target, **params)
        assert result.outcome in ("done", "read"), (action, result)
    assert len(world.store.recent("shop-prod", 50)) == 9  # every change audited (events is a read)


KRUISE_CHANGING = ["resume_order", "pause_order", "close_order", "rollback_order", "restart"]


@pytest.mark.parametrize("action", KRUISE_CHANGING)
def test_read_only_rules_refuse_every_kruise_change_with_a_clear_403(
    cluster: Cluster, tmp_path: Path, action: str
) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = KruiseWorld(cluster, tmp_path, read_only=True)
    before = world.rollout()
    with pytest.raises(ActionFailed, match=r"\(403\): grant `patch` on (rollouts|deployments)"):
        world.act(action, "Rollout/shop-web")
    after = world.rollout()
    assert (after["spec"], after["status"]) == (before["spec"], before["status"])
