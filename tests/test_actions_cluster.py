"""The action engine against a real API server, acting as the `deploybot` user with the chart's rules."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from bot import action_service
from bot.adapters.action_store import ActionStore
from bot.adapters.kube import KubeClient, fetch_snapshot
from bot.domain import actions, releases
from bot.domain.actions import ActionRequest
from bot.domain.environments import Environment
from bot.errors import ActionFailed, AlreadyDone, ClusterConflict, ClusterError, NotAllowed, Refused, Stale
from tests import k8s_objects as k
from tests.conftest import run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.rbac import chart_rules
from tests.test_inspect_cli import load

OPERATOR, STRANGER = "U0OPERATOR", "U0STRANGER"
WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shop-web"}}


class World:
    """One namespace with the shop-web Deployment (revisions 3 and 4), and the bot's view of it."""

    def __init__(
        self, cluster: Cluster, tmp_path: Path, *, read_only: bool = False, replicas: int = 3
    ) -> None:
        self.cluster = cluster
        self.ns = cluster.namespace()
        old = k.container(image=f"{k.REGISTRY}/web:v1.4.2")
        new = k.container(image=f"{k.REGISTRY}/web:v1.4.3")
        load(
            cluster,
            self.ns,
            [
                k.deployment(replicas=replicas, containers=[new], revision=4),
                k.replicaset("shop-web-7d9f8c6b5", containers=[old], revision=3, replicas=0),
                k.replicaset(
                    "shop-web-5c8d7f9b4",
                    template_hash="5c8d7f9b4",
                    containers=[new],
                    revision=4,
                    replicas=replicas,
                ),
            ],
        )
        # The chart's namespaced rules. Its cluster rule (list nodes) is left out: a ClusterRoleBinding
        # outlives the test namespace and other tests check what happens without it.
        namespaced, _ = chart_rules(read_only=read_only)
        cluster.grant(self.ns, "deploybot", namespaced)
        self.env = Environment(name="shop-prod", namespace=self.ns, protected=True, operators=(OPERATOR,))
        self.store = ActionStore(tmp_path / f"state-{self.ns}.sqlite")

    def client(self) -> KubeClient:
        return KubeClient.connect(kubeconfig=kubeconfig_or_skip(BOT_KUBECONFIG_VAR))

    def act(
        self,
        action: str,
        target: str | None = "shop-web",
        *,
        actor: str = OPERATOR,
        env: Environment | None = None,
        **params: str,
    ) -> action_service.ActResult:
        request = ActionRequest(
            environment="shop-prod",
            action=action,
            target=target,
            actor=actor,
            params=params,
            key=params.pop("key", None) if "key" in params else None,
        )
        client = self.client()
        try:
            return action_service.act(client, env or self.env, request, self.store)
        finally:
            client.close()

    def web(self) -> dict[str, Any]:
        return self.cluster.get({**WEB, "metadata": {"name": "shop-web", "namespace": self.ns}})

    def terminating(self) -> set[str]:
        items = self.cluster.admin.request("GET", f"/api/v1/namespaces/{self.ns}/pods")["items"]
        return {p["metadata"]["name"] for p in items if p["metadata"].get("deletionTimestamp")}

    def events(self, reason: str) -> list[dict[str, Any]]:
        items = self.cluster.admin.request("GET", f"/api/v1/namespaces/{self.ns}/events")["items"]
        return [e for e in items if e["reason"] == reason and e["source"].get("component") == "deploybot"]


@pytest.fixture
def world(cluster: Cluster, tmp_path: Path) -> World:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    return World(cluster, tmp_path)


@pytest.mark.parametrize("replicas", [1, 3, 7])
def test_scale_to_zero_then_restore_returns_the_original_count(
    cluster: Cluster, tmp_path: Path, replicas: int
) -> None:
    world = World(cluster, tmp_path, replicas=replicas)
    result = world.act("scale", replicas="0")
    assert result.outcome == "done"
    assert (
        f"scale Deployment/shop-web from {replicas} to 0 replicas in namespace {world.ns}" in result.message
    )
    after = world.web()
    assert after["spec"]["replicas"] == 0
    assert after["metadata"]["annotations"][actions.PREVIOUS_REPLICAS] == str(replicas)
    world.act("restore")
    restored = world.web()
    assert restored["spec"]["replicas"] == replicas
    assert actions.PREVIOUS_REPLICAS not in restored["metadata"]["annotations"]
    assert [r.action for r in world.store.recent("shop-prod")] == ["restore", "scale"]
    assert len(world.events("DeploybotScale")) == 1 and len(world.events("DeploybotRestore")) == 1
    assert OPERATOR in world.events("DeploybotScale")[0]["message"]


def test_pause_resume_and_close_change_exactly_the_order(world: World) -> None:
    before = world.web()
    world.act("pause_order")
    assert world.web()["spec"]["paused"] is True
    world.act("resume_order")
    assert world.web()["spec"].get("paused") in (False, None)
    world.act("close_order")
    closed = world.web()
    assert closed["spec"]["paused"] is True
    assert closed["metadata"]["annotations"]["deploybot.io/closed-by"] == OPERATOR
    assert closed["spec"]["template"] == before["spec"]["template"]  # nothing else touched
    assert closed["spec"]["replicas"] == before["spec"]["replicas"]
    snapshot = asyncio.run(fetch_snapshot(world.client(), world.env))
    current = [o for o in releases.release_orders(snapshot) if o.current]
    assert current[0].state == "closed"
    with pytest.raises(Refused, match="closed"):
        world.act("resume_order")


def test_rollback_restores_the_previous_revisions_template(world: World) -> None:
    result = world.act("rollback_order")
    assert "from revision 4" in result.message and "to revision 3" in result.message
    template = world.web()["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == f"{k.REGISTRY}/web:v1.4.2"
    assert "pod-template-hash" not in template["metadata"]["labels"]


def test_restart_stamps_the_template_like_kubectl(world: World) -> None:
    world.act("restart")
    annotations = world.web()["spec"]["template"]["metadata"]["annotations"]
    assert actions.RESTARTED_AT in annotations


def test_retry_failed_recreates_only_the_failing_pods(world: World) -> None:
    healthy = k.web_pod(0, template_hash="5c8d7f9b4")
    load(world.cluster, world.ns, [healthy, *k.crash_loop_pods(2)])
    result = world.act("retry_failed")
    assert "recreate 2 failed pod(s)" in result.message
    # no kubelet: deleted pods stay Terminating, exactly as on a real node during the grace period
    assert world.terminating() == {k.web_pod_name(0), k.web_pod_name(1)}
    assert healthy["metadata"]["name"] not in world.terminating()
    with pytest.raises(Refused, match="no failed instances"):
        world.act("retry_failed")  # the terminating ones are not retried twice


def test_delete_pod_and_events(world: World) -> None:
    load(world.cluster, world.ns, k.crash_loop_pods(1))
    pod_name = k.web_pod_name(0)
    lines = world.act("events", pod_name).output
    assert "BackOff" in lines
    world.act("delete_pod", pod_name)
    assert world.terminating() == {pod_name}
    with pytest.raises(Refused, match="already being deleted"):
        world.act("delete_pod", pod_name)
    world.act("delete_pod", pod_name, force="true")
    with pytest.raises(Refused, match="gone already"):
        world.act("delete_pod", pod_name)


def test_logs_without_a_kubelet_fail_clearly(world: World) -> None:
    load(world.cluster, world.ns, k.crash_loop_pods(1))
    with pytest.raises(ClusterError, match="pods/log"):
        world.act("logs", k.web_pod_name(0), previous="true")


def test_stale_button_is_refused_and_changes_nothing(world: World) -> None:
    planned_against = actions.fingerprint(world.web())
    world.cluster.admin.request(  # someone starts another release meanwhile
        "PATCH",
        f"/apis/apps/v1/namespaces/{world.ns}/deployments/shop-web",
        body={
            "metadata": {"annotations": {"deployment.kubernetes.io/revision": "5"}},
            "spec": {"template": {"metadata": {"labels": {"app": "shop-web", "v": "5"}}}},
        },
        content_type="application/merge-patch+json",
    )
    before = world.web()
    request = ActionRequest(
        environment="shop-prod",
        action="rollback_order",
        target="shop-web",
        actor=OPERATOR,
        expected=planned_against,
    )
    with pytest.raises(Stale, match="changed since this message"):
        action_service.act(world.client(), world.env, request, world.store)
    assert world.web()["spec"] == before["spec"]


def test_concurrent_duplicate_clicks_run_once(world: World) -> None:
    outcomes: list[str] = []

    def click() -> None:
        request = ActionRequest(
            environment="shop-prod",
            action="scale",
            target="shop-web",
            actor=OPERATOR,
            params={"replicas": "5"},
            key="slack-click-42",
        )
        try:
            outcomes.append(action_service.act(world.client(), world.env, request, world.store).outcome)
        except AlreadyDone as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("done") == 1, outcomes
    assert all(o.startswith("refused: already") for o in outcomes if o != "done")
    assert any(f"by {OPERATOR}" in o for o in outcomes if o != "done")
    assert world.web()["spec"]["replicas"] == 5
    assert len(world.events("DeploybotScale")) == 1
    assert [r.outcome for r in world.store.recent("shop-prod")] == ["done"]


def test_non_operators_are_refused_on_protected_environments(world: World) -> None:
    with pytest.raises(NotAllowed, match=f"{STRANGER} may not scale on protected environment shop-prod"):
        world.act("scale", actor=STRANGER, replicas="0")
    assert world.web()["spec"]["replicas"] == 3
    assert world.store.recent("shop-prod")[0].outcome == "refused"
    no_operators = Environment(name="shop-prod", namespace=world.ns, protected=True)
    with pytest.raises(NotAllowed, match="nobody"):
        world.act("scale", actor=OPERATOR, env=no_operators, replicas="0")
    assert world.act("events", actor=STRANGER).outcome == "read"  # read-only is open
    open_env = Environment(name="shop-prod", namespace=world.ns)
    assert world.act("scale", actor=STRANGER, env=open_env, replicas="2").outcome == "done"


def test_missing_write_rules_fail_with_403_and_change_nothing(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = World(cluster, tmp_path, read_only=True)
    with pytest.raises(ActionFailed, match=r"403.*grant `patch`"):
        world.act("scale", replicas="0")
    assert world.web()["spec"]["replicas"] == 3
    assert world.store.recent("shop-prod")[0].outcome == "failed"


def test_a_real_conflict_is_a_409_and_a_gone_pod_a_404(world: World) -> None:
    client = world.client()
    snapshot = asyncio.run(fetch_snapshot(client, world.env))
    request = ActionRequest(
        environment="shop-prod", action="scale", target="shop-web", actor=OPERATOR, params={"replicas": "0"}
    )
    plan = actions.plan(request, world.env, snapshot, now=k.NOW)
    world.cluster.admin.request(  # another writer gets there between plan and write
        "PATCH",
        f"/apis/apps/v1/namespaces/{world.ns}/deployments/shop-web",
        body={"spec": {"replicas": 4}},
        content_type="application/merge-patch+json",
    )
    op = plan.operations[0]
    with pytest.raises(ClusterConflict, match="409"):
        client.request(op.method, op.path, body=op.body, content_type=op.content_type, what=op.what)
    assert world.web()["spec"]["replicas"] == 4  # the patch was not applied at all

    load(world.cluster, world.ns, k.crash_loop_pods(1))
    snapshot = asyncio.run(fetch_snapshot(client, world.env))
    pod_name = k.web_pod_name(0)
    delete = actions.plan(replace_action(request, "delete_pod", pod_name), world.env, snapshot, now=k.NOW)
    world.cluster.admin.request(
        "DELETE", f"/api/v1/namespaces/{world.ns}/pods/{pod_name}", query=[("gracePeriodSeconds", "0")]
    )
    op = delete.operations[0]
    with pytest.raises(ClusterError, match="404"):
        client.request(op.method, op.path, body=op.body, what=op.what)


def replace_action(request: ActionRequest, action: str, target: str) -> ActionRequest:
    return ActionRequest(environment=request.environment, action=action, target=target, actor=request.actor)


def test_act_and_audit_from_the_terminal(world: World, tmp_path: Path) -> None:
    config = tmp_path / "deploybot.yaml"
    lines = ["environments:", "  shop-prod:", f"    namespace: {world.ns}", "    protected: true"]
    config.write_text("\n".join([*lines, f"    operators: [{OPERATOR}]", ""]))
    env = {
        "KUBECONFIG": kubeconfig_or_skip(BOT_KUBECONFIG_VAR),
        "DEPLOYBOT_DATA_DIR": str(tmp_path / "data"),
        "DEPLOYBOT_CONFIG": str(config),
    }
    dry = run_cli(
        "act", "shop-prod", "scale", "shop-web", "--replicas", "0", "--as", OPERATOR, "--dry-run", env=env
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would scale Deployment/shop-web from 3 to 0")
    assert world.web()["spec"]["replicas"] == 3
    unconfirmed = run_cli(
        "act", "shop-prod", "scale", "shop-web", "--replicas", "0", "--as", OPERATOR, env=env
    )
    assert unconfirmed.returncode == 2 and "pass --yes" in unconfirmed.stderr
    done = run_cli(
        "act", "shop-prod", "scale", "shop-web", "--replicas", "0", "--as", OPERATOR, "--yes", env=env
    )
    assert done.returncode == 0, done.stderr
    assert world.web()["spec"]["replicas"] == 0
    refused = run_cli("act", "shop-prod", "restore", "shop-web", "--as", STRANGER, "--yes", env=env)
    assert refused.returncode == 3
    assert f"{STRANGER} may not restore" in refused.stderr and "Traceback" not in refused.stderr
    audit = run_cli("audit", "shop-prod", env=env)
    lines = audit.stdout.splitlines()
    assert len(lines) == 2
    assert f"{STRANGER}  restore shop-web  refused" in lines[0]
    assert f"{OPERATOR}  scale Deployment/shop-web  done" in lines[1]
