"""The action engine against a real API server, acting as the `deploybot` user with the chart's rules."""

from __future__ import annotations

import asyncio
import getpass
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot import action_service
from bot.adapters.action_store import ActionStore
from bot.adapters.kube import KubeClient, ListSpec, fetch_snapshot
from bot.domain import actions, releases
from bot.domain.actions import ActionRequest
from bot.domain.environments import Environment
from bot.errors import ActionFailed, AlreadyDone, ClusterConflict, ClusterError, NotAllowed, Refused, Stale
from tests import k8s_objects as k
from tests.conftest import run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.rbac import chart_rules
from tests.test_inspect_cli import load
from tests.test_kube_adapter import install_rollout_crd

OPERATOR, STRANGER = "U0OPERATOR", "U0STRANGER"
WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shop-web"}}


class World:
    """One namespace with the shop-web Deployment (revisions 3 and 4), and the bot's view of it."""

    def __init__(
        self,
        cluster: Cluster,
        tmp_path: Path,
        *,
        read_only: bool = False,
        replicas: int = 3,
        rules: list[dict[str, Any]] | None = None,
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
        cluster.grant(self.ns, "deploybot", namespaced if rules is None else rules)
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
    [row] = world.store.recent("shop-prod")
    assert (row.outcome, row.actor, row.target) == ("refused", OPERATOR, "shop-web")
    assert "changed since this message" in row.message


def test_an_action_that_does_not_apply_is_refused_and_audited(world: World) -> None:
    """restore without an earlier scale to 0: nothing to restore; the attempt is still on record."""
    with pytest.raises(Refused):
        world.act("restore")
    [row] = world.store.recent("shop-prod")
    assert row.outcome == "refused" and row.action == "restore" and row.message


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
    # the double clicks are in the trail too, each saying who got there first
    rows = world.store.recent("shop-prod")
    assert sorted(r.outcome for r in rows) == ["done", "refused", "refused", "refused"]
    assert all("already" in r.message for r in rows if r.outcome == "refused")


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
    typist = getpass.getuser()  # --as says for whom; the OS user who typed it is kept beside it
    assert f"{STRANGER} (os user {typist})  restore shop-web  refused" in lines[0]
    assert f"{OPERATOR} (os user {typist})  scale Deployment/shop-web  done" in lines[1]


# ---------------------------------------------------------------- every action on every kind

KRUISE_GROUP = "rollouts.kruise.io"


def kruise_crd(cluster: Cluster) -> None:
    """The OpenKruise Rollout CRD serving v1beta1 (stored) and v1alpha1, as Kruise Rollouts ≥ 0.5 does."""
    name = f"rollouts.{KRUISE_GROUP}"
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"

    def version(v: str, storage: bool) -> dict[str, Any]:
        schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        return {
            "name": v,
            "served": True,
            "storage": storage,
            "subresources": {"status": {}},
            "schema": schema,
        }

    try:
        crd = cluster.admin.request("GET", path)
    except ClusterError:  # 404: not installed yet
        install_rollout_crd(cluster, KRUISE_GROUP, "v1beta1")
        crd = cluster.admin.request("GET", path)
    if "v1alpha1" not in {v["name"] for v in crd["spec"]["versions"]}:
        cluster.admin.request(
            "PATCH",
            path,
            body=[{"op": "add", "path": "/spec/versions/-", "value": version("v1alpha1", False)}],
            content_type="application/json-patch+json",
        )
    for v in ("v1beta1", "v1alpha1"):
        cluster.wait_for_group(KRUISE_GROUP, v)
        cluster.kinds[f"Rollout@{KRUISE_GROUP}/{v}"] = (f"/apis/{KRUISE_GROUP}/{v}", "rollouts", True)


class KruiseWorld(World):
    """World's shop-web, released by an OpenKruise Rollout waiting for approval at batch 1 of 3."""

    def __init__(
        self,
        cluster: Cluster,
        tmp_path: Path,
        rollout: dict[str, Any] | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        kruise_crd(cluster)
        super().__init__(cluster, tmp_path, replicas=1, read_only=read_only)
        self.cluster.admin.request(  # Kruise holds the Deployment paused and releases it batch by batch
            "PATCH",
            f"/apis/apps/v1/namespaces/{self.ns}/deployments/shop-web",
            body={"spec": {"paused": True}},
            content_type="application/merge-patch+json",
        )
        load(cluster, self.ns, [rollout or k.kruise_rollout_at(1, "StepPaused")])

    def rollout(self, version: str = "v1beta1") -> dict[str, Any]:
        return self.cluster.admin.request(
            "GET", f"/apis/{KRUISE_GROUP}/{version}/namespaces/{self.ns}/rollouts/shop-web"
        )


def test_kruise_approve_pause_unpause_and_close_on_the_api_server(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = KruiseWorld(cluster, tmp_path)
    result = world.act("resume_order", "Rollout/shop-web")
    assert "approve batch 1/3 of Rollout/shop-web" in result.message
    assert world.rollout()["status"]["canaryStatus"]["currentStepState"] == "StepReady"
    with pytest.raises(Refused, match="not waiting for approval"):  # nothing waits any more
        world.act("resume_order", "Rollout/shop-web")
    world.act("pause_order", "Rollout/shop-web")
    assert world.rollout()["spec"]["strategy"]["paused"] is True
    with pytest.raises(Refused, match="already paused"):
        world.act("pause_order", "Rollout/shop-web")
    world.act("resume_order", "Rollout/shop-web")  # unpause
    assert world.rollout()["spec"]["strategy"]["paused"] is False
    world.act("close_order", "Rollout/shop-web", reason="wrong build")
    closed = world.rollout()
    assert closed["spec"]["disabled"] is True
    assert closed["metadata"]["annotations"]["deploybot.io/closed-by"] == OPERATOR
    assert closed["spec"]["strategy"]["canary"] == k.kruise_rollout()["spec"]["strategy"]["canary"]
    snapshot = asyncio.run(fetch_snapshot(world.client(), world.env))
    [order] = [o for o in releases.release_orders(snapshot) if o.current and o.source == "kruise"]
    assert order.state == "closed" and OPERATOR in order.reason
    with pytest.raises(Refused, match="closed"):
        world.act("resume_order", "Rollout/shop-web")
    assert world.web()["spec"]["paused"] is True  # the Deployment's pause stays the Rollout's
    assert len(world.events("DeploybotResumeOrder")) == 2 and len(world.events("DeploybotCloseOrder")) == 1
    assert world.events("DeploybotCloseOrder")[0]["involvedObject"]["kind"] == "Rollout"


def test_kruise_v1alpha1_rollouts_are_patched_at_v1alpha1(cluster: Cluster, tmp_path: Path) -> None:
    """On a cluster whose Kruise serves only v1alpha1 (before 0.5) the bot lists v1alpha1 Rollouts and
    writes them back at v1alpha1: the list is made as fetch_snapshot makes it, on such a cluster."""
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = KruiseWorld(
        cluster, tmp_path, k.kruise_rollout_at(1, "StepPaused", api_version=f"{KRUISE_GROUP}/v1alpha1")
    )
    client = world.client()
    snapshot = asyncio.run(fetch_snapshot(client, world.env))
    old_kruise = ListSpec("kruise_rollouts", "rollouts", KRUISE_GROUP, "v1alpha1")
    for action in ("resume_order", "pause_order"):
        listed = client.list_objects(old_kruise, world.ns)
        assert [r["apiVersion"] for r in listed] == [f"{KRUISE_GROUP}/v1alpha1"]
        request = ActionRequest("shop-prod", action, "Rollout/shop-web", OPERATOR)
        plan = actions.plan(request, world.env, replace(snapshot, kruise_rollouts=tuple(listed)), now=k.NOW)
        for op in plan.operations:
            assert f"/{KRUISE_GROUP}/v1alpha1/" in op.path
            client.request(op.method, op.path, body=op.body, content_type=op.content_type, what=op.what)
    client.close()
    after = world.rollout("v1alpha1")
    assert after["status"]["canaryStatus"]["currentStepState"] == "StepReady"
    assert after["spec"]["strategy"]["paused"] is True


def test_kruise_rollback_reverts_the_deployment_template(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = KruiseWorld(cluster, tmp_path)
    result = world.act("rollback_order", "Rollout/shop-web")
    assert "from revision 4" in result.message and "to revision 3" in result.message
    web = world.web()
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == f"{k.REGISTRY}/web:v1.4.2"
    assert "pod-template-hash" not in web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["paused"] is True


def test_kruise_retry_and_restart_act_on_the_workload(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = KruiseWorld(cluster, tmp_path)
    failing_new, failing_old = k.crashing_web_pod(0, "5c8d7f9b4"), k.crashing_web_pod(1, "7d9f8c6b5")
    load(cluster, world.ns, [failing_new, failing_old])
    result = world.act("retry_failed", "Rollout/shop-web")
    assert "the Rollout API has no retry" in result.message
    assert world.terminating() == {failing_new["metadata"]["name"]}  # only this release's batch
    world.act("restart", "Rollout/shop-web")
    annotations = world.web()["spec"]["template"]["metadata"]["annotations"]
    assert actions.RESTARTED_AT in annotations
    with pytest.raises(Refused, match="released by the OpenKruise Rollout/shop-web"):
        world.act("pause_order", "Deployment/shop-web")


def test_kruise_approval_of_a_batch_that_moved_on_is_stale(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = KruiseWorld(cluster, tmp_path)
    made_for = actions.fingerprint(world.rollout())
    moved = k.kruise_rollout_at(2, "StepPaused")
    cluster.set_status({**moved, "metadata": {"name": "shop-web", "namespace": world.ns}}, moved["status"])
    request = ActionRequest("shop-prod", "resume_order", "Rollout/shop-web", OPERATOR, expected=made_for)
    with pytest.raises(Stale, match="changed since this message"):
        action_service.act(world.client(), world.env, request, world.store)
    assert world.rollout()["status"]["canaryStatus"]["currentStepState"] == "StepPaused"


def test_statefulset_rollback_to_the_previous_controller_revision(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    world = World(cluster, tmp_path)
    revisions = [
        k.controller_revision("shop-db", 1, f"{k.REGISTRY}/db:5.6"),
        k.controller_revision("shop-db", 2, f"{k.REGISTRY}/db:5.7"),
    ]
    load(cluster, world.ns, [k.statefulset_at(revisions), *revisions])
    result = world.act("rollback_order", "StatefulSet/shop-db")
    assert "from revision 2" in result.message and "to revision 1" in result.message
    sts = cluster.get(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "shop-db", "namespace": world.ns},
        }
    )
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == f"{k.REGISTRY}/db:5.6"


def test_statefulset_without_controllerrevision_rights_still_inspects_but_cannot_roll_back(
    cluster: Cluster, tmp_path: Path
) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    namespaced, _ = chart_rules()
    rules = [
        {**r, "resources": [x for x in r["resources"] if x != "controllerrevisions"]} for r in namespaced
    ]
    world = World(cluster, tmp_path, rules=rules)
    revisions = [
        k.controller_revision("shop-db", 1, f"{k.REGISTRY}/db:5.6"),
        k.controller_revision("shop-db", 2, f"{k.REGISTRY}/db:5.7"),
    ]
    load(cluster, world.ns, [k.statefulset_at(revisions), *revisions])
    snapshot = asyncio.run(fetch_snapshot(world.client(), world.env))
    assert snapshot.statefulsets and "controllerrevisions" in snapshot.unavailable
    with pytest.raises(Refused, match=r"revisions could not be read .*403"):
        world.act("rollback_order", "StatefulSet/shop-db")


def test_argo_rollback_and_retry_on_the_api_server(cluster: Cluster, tmp_path: Path) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    install_rollout_crd(cluster, "argoproj.io", "v1alpha1")
    world = World(cluster, tmp_path)
    objects = k.argo_rollout_with_history([f"{k.REGISTRY}/web:v1", f"{k.REGISTRY}/web:v2"], abort=True)
    load(cluster, world.ns, objects)
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{world.ns}/rollouts/shop-web"
    world.act("retry_failed", "Rollout/shop-web")
    assert cluster.admin.request("GET", path)["status"]["abort"] is False
    result = world.act("rollback_order", "Rollout/shop-web")
    assert "from revision 2" in result.message and "to revision 1" in result.message
    template = cluster.admin.request("GET", path)["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == f"{k.REGISTRY}/web:v1"
    assert "rollouts-pod-template-hash" not in template["metadata"]["labels"]


def test_a_second_restore_says_who_restored_and_when(world: World) -> None:
    world.act("scale", replicas="0")
    world.act("restore")
    restored = world.web()["metadata"]["annotations"][actions.RESTORED]
    assert restored.startswith(f"{OPERATOR} at ")
    two = Environment(name="shop-prod", namespace=world.ns, protected=True, operators=(OPERATOR, "U0SECOND1"))
    with pytest.raises(Refused, match=f"already restored by {OPERATOR} at "):
        world.act("restore", actor="U0SECOND1", env=two)
    assert world.web()["spec"]["replicas"] == 3


def test_a_422_names_the_field_and_the_reason(world: World) -> None:
    client = world.client()
    with pytest.raises(ClusterError) as caught:
        client.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{world.ns}/deployments/shop-web",
            body={"spec": {"replicas": -1}},
            content_type="application/merge-patch+json",
            what=f"patch deployments in namespace {world.ns}",
        )
    message = str(caught.value)
    assert message == (
        f"the Kubernetes API refused to patch deployments in namespace {world.ns} (422, invalid): "
        "Deployment/shop-web: spec.replicas: must be greater than or equal to 0 (got -1)"
    )


def cli_env(tmp_path: Path, namespace: str, *extra: str) -> dict[str, str]:
    config = tmp_path / "deploybot.yaml"
    lines = ["environments:", "  shop-prod:", f"    namespace: {namespace}", "    protected: true"]
    config.write_text("\n".join([*lines, f"    operators: [{OPERATOR}]", *extra, ""]))
    return {
        "KUBECONFIG": kubeconfig_or_skip(BOT_KUBECONFIG_VAR),
        "DEPLOYBOT_DATA_DIR": str(tmp_path / "data"),
        "DEPLOYBOT_CONFIG": str(config),
    }


def test_an_unknown_action_is_a_usage_error_with_suggestions(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "shop")
    typo = run_cli("act", "shop-prod", "scael", "shop-web", "--replicas", "0", "--yes", env=env)
    assert typo.returncode == 2
    assert typo.stderr.strip() == "deploybot: unknown action 'scael'; did you mean scale?"
    nothing_close = run_cli("act", "shop-prod", "explode", env=env)
    assert nothing_close.returncode == 2 and "known: close_order, delete_pod, events" in nothing_close.stderr


def test_scaling_above_max_replicas_needs_the_count_twice(world: World, tmp_path: Path) -> None:
    env = cli_env(tmp_path, world.ns, "    max_replicas: 4")
    scale = ("act", "shop-prod", "scale", "shop-web", "--as", OPERATOR, "--replicas")
    yes_only = run_cli(*scale, "5", "--yes", env=env)
    assert yes_only.returncode == 2
    assert "5 is above max_replicas 4 of shop-prod: pass --confirm-replicas 5" in yes_only.stderr
    mismatch = run_cli(*scale, "5", "--confirm-replicas", "50", env=env)
    assert mismatch.returncode == 2 and "does not match --replicas 5" in mismatch.stderr
    assert world.web()["spec"]["replicas"] == 3  # neither reached the cluster
    assert run_cli(*scale, "5", "--dry-run", env=env).returncode == 0  # a dry run changes nothing
    at_the_ceiling = run_cli(*scale, "4", "--yes", env=env)
    assert at_the_ceiling.returncode == 0, at_the_ceiling.stderr
    confirmed = run_cli(*scale, "5", "--confirm-replicas", "5", env=env)
    assert confirmed.returncode == 0, confirmed.stderr
    assert world.web()["spec"]["replicas"] == 5
    assert "--confirm-replicas N" in run_cli("act", "--help").stdout
