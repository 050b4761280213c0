"""Action planning, pure: what each plan changes, who may run it, and when it is refused."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain import actions
from bot.domain.actions import ActionRefused, ActionRequest, StaleAction
from bot.domain.environments import Environment
from tests import k8s_objects as k

ENV = Environment(name="shop-prod", namespace=k.NS, protected=True, operators=("U0OPERATOR", "S0ONCALL"))


def request(action: str, target: str | None = "shop-web", **params: str) -> ActionRequest:
    return ActionRequest(
        environment="shop-prod", action=action, target=target, actor="U0OPERATOR", params=params
    )


def plan(action: str, objects: list[dict[str, Any]] | None = None, **kwargs: Any) -> actions.Plan:
    snapshot = k.snapshot(objects if objects is not None else k.web_workload())
    return actions.plan(request(action, **kwargs), ENV, snapshot, now=k.NOW)


def ops(p: actions.Plan) -> list[dict[str, Any]]:
    return [op for operation in p.operations for op in operation.body if isinstance(operation.body, list)]


def test_scale_to_zero_remembers_the_count_and_guards_the_resource_version() -> None:
    p = plan("scale", replicas="0")
    assert (
        p.description
        == "scale Deployment/shop-web from 3 to 0 replicas in namespace shop (remembering 3 for restore)"
    )
    scale, note = p.operations
    assert scale.path.endswith("/deployments/shop-web/scale")  # the scale subresource, first
    assert scale.body["spec"] == {"replicas": 0}
    assert scale.body["metadata"]["resourceVersion"]  # 409 if the object changed since the snapshot
    assert any(o["path"].endswith("replicas-before-scale-to-zero") and o["value"] == "3" for o in note.body)


@pytest.mark.parametrize("replicas", ["-1", "two", None])
def test_scale_needs_a_count(replicas: str | None) -> None:
    params = {"replicas": replicas} if replicas is not None else {}
    with pytest.raises(ActionRefused, match="--replicas N"):
        plan("scale", None, **params)


def test_scale_to_the_same_count_is_refused() -> None:
    with pytest.raises(ActionRefused, match="already has 3 replicas"):
        plan("scale", replicas="3")


def test_restore_without_a_remembered_count_is_refused() -> None:
    with pytest.raises(ActionRefused, match="no replica count to restore"):
        plan("restore")


def test_rollback_needs_an_older_revision() -> None:
    with pytest.raises(ActionRefused, match="no earlier revision"):
        plan("rollback_order")


def test_resume_of_a_running_order_is_refused_and_pause_is_a_guarded_patch() -> None:
    with pytest.raises(ActionRefused, match="not paused"):
        plan("resume_order")
    assert {"op": "add", "path": "/spec/paused", "value": True} in ops(plan("pause_order"))


def test_close_marks_who_and_why() -> None:
    patch = ops(plan("close_order", reason="bad config"))
    values = {o["path"]: o.get("value") for o in patch}
    assert values["/metadata/annotations/deploybot.io~1closed-by"] == "U0OPERATOR"
    assert values["/metadata/annotations/deploybot.io~1closed-reason"] == "bad config"
    assert values["/spec/paused"] is True


def test_read_only_actions_change_nothing() -> None:
    objects = [*k.web_workload(), *k.crash_loop_pods(1)]
    logs = plan("logs", objects, target=k.web_pod_name(0), previous="true")
    assert not logs.changing and logs.operations[0].text
    assert ("previous", "true") in logs.operations[0].query
    events = plan("events", objects, target=k.web_pod_name(0))
    assert not events.changing and not events.operations
    assert any("BackOff" in line for line in events.lines)


@pytest.mark.parametrize(
    ("action", "target", "message"),
    [
        ("explode", "shop-web", "unknown action 'explode'"),
        ("scale", "shop-api", "no workload 'shop-api'"),
        ("delete_pod", None, "name the pod"),
        ("delete_pod", "nope-123", "no pod 'nope-123'"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(action: str, target: str | None, message: str) -> None:
    with pytest.raises(ActionRefused, match=message):
        actions.plan(request(action, target, replicas="0"), ENV, k.snapshot(k.web_workload()), now=k.NOW)


def test_ambiguous_target_lists_the_workloads() -> None:
    objects = [*k.web_workload(), *k.web_workload(app="shop-api")]
    with pytest.raises(ActionRefused, match=r"which workload\? \(.*Deployment/shop-api"):
        actions.plan(request("restart", None), ENV, k.snapshot(objects), now=k.NOW)


def test_a_button_made_against_another_revision_is_stale() -> None:
    snapshot = k.snapshot(k.web_workload())
    current = actions.fingerprint(snapshot.deployments[0])
    assert actions.plan(
        ActionRequest("shop-prod", "restart", "shop-web", "U0OPERATOR", expected=current),
        ENV,
        snapshot,
        now=k.NOW,
    )
    with pytest.raises(StaleAction, match="changed since this message"):
        actions.plan(
            ActionRequest("shop-prod", "restart", "shop-web", "U0OPERATOR", expected="3/3"),
            ENV,
            snapshot,
            now=k.NOW,
        )


def test_fingerprint_ignores_status_churn_but_not_a_new_revision() -> None:
    dep = k.web_workload()[0]
    churned = {**dep, "status": {**dep["status"], "readyReplicas": 1}}
    assert actions.fingerprint(churned) == actions.fingerprint(dep)
    bumped = {
        **dep,
        "metadata": {**dep["metadata"], "annotations": {"deployment.kubernetes.io/revision": "5"}},
    }
    assert actions.fingerprint(bumped) != actions.fingerprint(dep)


@pytest.mark.parametrize(
    ("env", "actor", "groups", "action", "allowed"),
    [
        (ENV, "U0OPERATOR", (), "scale", True),
        (ENV, "U0SOMEONE", ("S0ONCALL",), "scale", True),  # via a user group
        (ENV, "U0SOMEONE", (), "scale", False),
        (ENV, "U0SOMEONE", (), "logs", True),  # read-only is open
        (Environment("dev", "dev"), "U0SOMEONE", (), "scale", True),  # unprotected
        (Environment("prod", "prod", protected=True), "U0OPERATOR", (), "restart", False),  # deny by default
    ],
)
def test_authorization(
    env: Environment, actor: str, groups: tuple[str, ...], action: str, allowed: bool
) -> None:
    req = ActionRequest(env.name, action, "shop-web", actor, actor_groups=groups)
    assert actions.is_allowed(env, req) is allowed


# ---------------------------------------------------------------- every action on every kind


def kruise_world(rollout: dict[str, Any] | None = None, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    """shop-web at revision 4 (v1.4.3, ReplicaSet 5c8d7f9b4) over revision 3 (v1.4.2), released by
    an OpenKruise Rollout waiting for approval at batch 1."""
    new = k.container(image=f"{k.REGISTRY}/web:v1.4.3")
    return [
        k.deployment(containers=[new], revision=4, paused=True),
        k.replicaset("shop-web-7d9f8c6b5", revision=3, replicas=0),
        k.replicaset(
            "shop-web-5c8d7f9b4", template_hash="5c8d7f9b4", containers=[new], revision=4, replicas=1
        ),
        rollout if rollout is not None else k.kruise_rollout_at(1, "StepPaused"),
        *extra,
    ]


def kplan(
    action: str, objects: list[dict[str, Any]], target: str | None = "Rollout/shop-web", **params: str
) -> actions.Plan:
    return plan(action, objects, target=target, **params)


def test_kruise_resume_approves_the_paused_batch_on_the_status_guarded_by_its_version() -> None:
    p = kplan("resume_order", kruise_world())
    [op] = p.operations
    assert op.path == f"/apis/rollouts.kruise.io/v1beta1/namespaces/{k.NS}/rollouts/shop-web/status"
    assert op.content_type == actions.MERGE_PATCH
    assert op.body["status"] == {"canaryStatus": {"currentStepState": "StepReady"}}
    assert op.body["metadata"]["resourceVersion"] == kruise_world()[3]["metadata"]["resourceVersion"]
    assert p.target == "Rollout/shop-web" and "approve batch 1/3" in p.description


@pytest.mark.parametrize("state", ["StepUpgrade", "StepReady", "Completed"])
def test_kruise_resume_of_a_running_batch_is_refused(state: str) -> None:
    with pytest.raises(ActionRefused, match=f"not waiting for approval \\(batch 2/3: {state}\\)"):
        kplan("resume_order", kruise_world(k.kruise_rollout_at(2, state)))


def test_kruise_pause_and_unpause_are_spec_strategy_paused() -> None:
    pause = kplan("pause_order", kruise_world(k.kruise_rollout_at(2, "StepUpgrade")))
    assert {"op": "add", "path": "/spec/strategy/paused", "value": True} in ops(pause)
    assert ops(pause)[0]["path"] == "/metadata/resourceVersion"  # guarded
    paused = kruise_world(k.kruise_rollout_at(1, "StepPaused", paused=True))
    with pytest.raises(ActionRefused, match="already paused"):
        kplan("pause_order", paused)
    unpause = kplan("resume_order", paused)
    assert {"op": "add", "path": "/spec/strategy/paused", "value": False} in ops(unpause)
    assert "still waits for approval: resume again" in unpause.description
    healthy = k.kruise_rollout_at(3, "Completed")
    healthy["status"]["phase"] = "Healthy"
    with pytest.raises(ActionRefused, match="no release in progress"):
        kplan("pause_order", kruise_world(healthy))


def test_kruise_close_disables_the_rollout_and_says_who_closed_it() -> None:
    p = kplan("close_order", kruise_world(), reason="bad build")
    values = {o["path"]: o.get("value") for o in ops(p)}
    assert values["/spec/disabled"] is True
    assert values["/metadata/annotations/deploybot.io~1closed-by"] == "U0OPERATOR"
    assert values["/metadata/annotations/deploybot.io~1closed-reason"] == "bad build"
    closed = k.kruise_rollout_at(1, "StepPaused")
    closed["spec"]["disabled"] = True
    for action in ("close_order", "resume_order", "pause_order"):
        with pytest.raises(ActionRefused, match=r"closed \(spec.disabled is true\)"):
            kplan(action, kruise_world(closed))


def test_kruise_v1alpha1_is_written_at_its_own_version() -> None:
    old = k.kruise_rollout_at(1, "StepPaused", api_version="rollouts.kruise.io/v1alpha1")
    assert "workloadRef" not in old["spec"]  # v1alpha1: spec.objectRef.workloadRef
    for action in ("resume_order", "pause_order", "close_order"):
        [op] = kplan(action, kruise_world(old)).operations
        assert op.path.startswith(f"/apis/rollouts.kruise.io/v1alpha1/namespaces/{k.NS}/rollouts/shop-web")
    rollback = kplan("rollback_order", kruise_world(old))
    assert rollback.operations[0].path.endswith("/deployments/shop-web")


def test_kruise_rollback_reverts_the_workloads_template_and_leaves_its_pause_to_the_rollout() -> None:
    p = kplan("rollback_order", kruise_world())
    [op] = p.operations
    assert op.path == f"/apis/apps/v1/namespaces/{k.NS}/deployments/shop-web"
    [template] = [o["value"] for o in op.body if o["path"] == "/spec/template"]
    assert template["spec"]["containers"][0]["image"] == f"{k.REGISTRY}/web:v1.4.2"
    assert "pod-template-hash" not in template["metadata"]["labels"]
    assert not any(o["path"] == "/spec/paused" for o in op.body)  # Kruise holds the Deployment paused
    assert "from revision 4" in p.description and "to revision 3" in p.description
    assert p.fingerprint == actions.fingerprint(kruise_world()[3])  # the Rollout's, like its button
    first = [o for o in kruise_world() if o["metadata"]["name"] != "shop-web-7d9f8c6b5"]
    with pytest.raises(ActionRefused, match="no earlier revision"):
        kplan("rollback_order", first)


def test_kruise_retry_recreates_only_the_failed_pods_of_the_current_batch() -> None:
    objects = kruise_world(
        None,
        k.crashing_web_pod(0, "5c8d7f9b4"),  # batch 1, failing
        k.web_pod(1, template_hash="5c8d7f9b4"),  # batch 1, fine
        k.crashing_web_pod(2, "7d9f8c6b5"),  # the old revision: not this release's batch
    )
    p = kplan("retry_failed", objects)
    assert [op.path.rsplit("/", 1)[1] for op in p.operations] == [k.web_pod_name(0, "5c8d7f9b4")]
    assert all(op.method == "DELETE" and op.body["preconditions"]["uid"] for op in p.operations)
    assert "the Rollout API has no retry" in p.description and "batch 1/3" in p.description
    with pytest.raises(ActionRefused, match=r"batch 1/3 of Rollout/shop-web .* no failed instances"):
        kplan("retry_failed", kruise_world())


def test_kruise_restart_and_scale_act_on_the_workload_under_the_rollouts_name() -> None:
    restart = kplan("restart", kruise_world())
    assert restart.operations[0].path.endswith("/deployments/shop-web")
    assert any(o["path"].endswith("restartedAt") for o in ops(restart))
    assert (
        restart.target == "Rollout/shop-web"
        and "released in batches by Rollout/shop-web" in restart.description
    )
    scale = kplan("scale", kruise_world(), replicas="0")
    assert scale.operations[0].path.endswith("/deployments/shop-web/scale")
    assert (
        scale.involved["kind"] == "Rollout" and scale.involved["apiVersion"] == "rollouts.kruise.io/v1beta1"
    )


def test_a_workload_released_by_kruise_sends_order_actions_to_its_rollout() -> None:
    with pytest.raises(
        ActionRefused, match=r"released by the OpenKruise Rollout/shop-web.*pause_order Rollout"
    ):
        kplan("pause_order", kruise_world(), target="Deployment/shop-web")
    assert kplan("restart", kruise_world(), target="Deployment/shop-web").target == "Deployment/shop-web"
    assert kplan("resume_order", kruise_world(), target=None).target == "Rollout/shop-web"
    assert kplan("resume_order", kruise_world(), target="shop-web").target == "Rollout/shop-web"


def test_a_kruise_button_made_for_one_batch_is_stale_at_the_next() -> None:
    made_for = actions.fingerprint(k.kruise_rollout_at(1, "StepPaused"))
    assert made_for != actions.fingerprint(k.kruise_rollout_at(2, "StepPaused"))
    snapshot = k.snapshot(kruise_world(k.kruise_rollout_at(2, "StepPaused")))
    request = ActionRequest("shop-prod", "resume_order", "Rollout/shop-web", "U0OPERATOR", expected=made_for)
    with pytest.raises(StaleAction, match="Rollout/shop-web changed since this message"):
        actions.plan(request, ENV, snapshot, now=k.NOW)


def sts_world(*images: str) -> list[dict[str, Any]]:
    revisions = [k.controller_revision("shop-db", n, image) for n, image in enumerate(images, start=1)]
    return [k.statefulset_at(revisions), *revisions]


def test_statefulset_rollback_goes_back_to_the_previous_controller_revision() -> None:
    objects = sts_world(f"{k.REGISTRY}/db:5.6", f"{k.REGISTRY}/db:5.7", f"{k.REGISTRY}/db:5.8")
    p = plan("rollback_order", objects, target="StatefulSet/shop-db")
    [template] = [o["value"] for o in ops(p) if o["path"] == "/spec/template"]
    assert template["spec"]["containers"][0]["image"] == f"{k.REGISTRY}/db:5.7"
    assert "$patch" not in template and "controller-revision-hash" not in template["metadata"]["labels"]
    assert ops(p)[0]["path"] == "/metadata/resourceVersion"
    assert "from revision 3" in p.description and "to revision 2" in p.description
    with pytest.raises(ActionRefused, match=r"first revision \(1\): no earlier revision"):
        plan("rollback_order", sts_world(f"{k.REGISTRY}/db:5.7"), target="StatefulSet/shop-db")
    unreadable = k.snapshot(
        objects[:1], unavailable={"controllerrevisions": "forbidden: list controllerrevisions"}
    )
    with pytest.raises(ActionRefused, match=r"revisions could not be read .*forbidden"):
        actions.plan(request("rollback_order", "StatefulSet/shop-db"), ENV, unreadable, now=k.NOW)


@pytest.mark.parametrize("action", ["pause_order", "resume_order", "close_order"])
def test_statefulsets_have_no_pause_so_order_actions_are_refused(action: str) -> None:
    with pytest.raises(ActionRefused, match="StatefulSet has no pause"):
        plan(action, sts_world(f"{k.REGISTRY}/db:5.7"), target="StatefulSet/shop-db")


def test_argo_rollback_takes_the_previous_revisions_replicaset_template() -> None:
    objects = k.argo_rollout_with_history([f"{k.REGISTRY}/web:v1", f"{k.REGISTRY}/web:v2"])
    p = plan("rollback_order", objects, target="Rollout/shop-web")
    [op] = p.operations
    assert op.path == f"/apis/argoproj.io/v1alpha1/namespaces/{k.NS}/rollouts/shop-web"
    [template] = [o["value"] for o in op.body if o["path"] == "/spec/template"]
    assert template["spec"]["containers"][0]["image"] == f"{k.REGISTRY}/web:v1"
    assert "rollouts-pod-template-hash" not in template["metadata"]["labels"]
    assert "from revision 2" in p.description and "to revision 1" in p.description
    with pytest.raises(ActionRefused, match="no earlier revision"):
        plan(
            "rollback_order", k.argo_rollout_with_history([f"{k.REGISTRY}/web:v1"]), target="Rollout/shop-web"
        )


def test_argo_retry_only_of_an_aborted_order() -> None:
    history = [f"{k.REGISTRY}/web:v1", f"{k.REGISTRY}/web:v2"]
    with pytest.raises(ActionRefused, match="not aborted"):
        plan("retry_failed", k.argo_rollout_with_history(history), target="Rollout/shop-web")
    [op] = plan(
        "retry_failed", k.argo_rollout_with_history(history, abort=True), target="Rollout/shop-web"
    ).operations
    assert op.body["status"] == {"abort": False} and op.body["metadata"]["resourceVersion"]


def scaled_to_zero(**annotations: str) -> list[dict[str, Any]]:
    dep, rs = k.web_workload()
    dep["spec"]["replicas"] = 0
    dep["metadata"]["annotations"].update(annotations)
    return [dep, rs]


def test_restore_records_who_restored_and_a_second_restore_says_so() -> None:
    p = plan("restore", scaled_to_zero(**{actions.PREVIOUS_REPLICAS: "3"}))
    values = {o["path"]: o.get("value") for o in ops(p)}
    assert values["/metadata/annotations/deploybot.io~1restored"] == "U0OPERATOR at 2026-11-21T10:00:00Z"
    assert any(
        o == {"op": "remove", "path": "/metadata/annotations/deploybot.io~1replicas-before-scale-to-zero"}
        for o in ops(p)
    )
    dep, rs = k.web_workload()
    dep["metadata"]["annotations"][actions.RESTORED] = "U0OPERATOR at 2026-11-21T10:00:00Z"
    with pytest.raises(ActionRefused, match="already restored by U0OPERATOR at 2026-11-21T10:00:00Z"):
        plan("restore", [dep, rs])
    again = {o["path"]: o for o in ops(plan("scale", [dep, rs], replicas="0"))}
    assert again["/metadata/annotations/deploybot.io~1restored"]["op"] == "remove"  # a new scale forgets it


def test_restore_only_undoes_a_scale_to_zero() -> None:
    dep, rs = k.web_workload()  # 3 replicas, with a stale remembered count
    dep["metadata"]["annotations"][actions.PREVIOUS_REPLICAS] = "5"
    with pytest.raises(ActionRefused, match="has 3 replicas, not 0"):
        plan("restore", [dep, rs])


def offered(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """What the Slack message would offer (Runtime._buttons): the findings' actions that plan."""
    from bot.domain import diagnosis, releases

    snapshot = k.snapshot(objects)
    found = set()
    for finding in diagnosis.diagnose(snapshot, releases.release_orders(snapshot)):
        for ref in finding.actions:
            try:
                actions.plan(request(ref.action, ref.target, **dict(ref.params)), ENV, snapshot, now=k.NOW)
            except ActionRefused:
                continue
            found.add((ref.action, ref.target))
    return found


def test_only_actions_that_apply_are_offered() -> None:
    failed = k.web_workload()
    failed[0]["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "timed out",
        }
    ]
    first_revision = offered(failed)
    assert ("close_order", "Deployment/shop-web") in first_revision
    assert not {a for a, _ in first_revision} & {"rollback_order", "resume_order", "retry_failed", "restore"}
    older = k.replicaset("shop-web-0000", template_hash="0000", revision=3, replicas=0)
    assert ("rollback_order", "Deployment/shop-web") in offered([*failed, older])
    waiting = offered(kruise_world())
    assert ("resume_order", "Rollout/shop-web") in waiting
    running = offered(kruise_world(k.kruise_rollout_at(2, "StepUpgrade")))
    assert not {a for a, _ in running} & {"resume_order", "rollback_order"}


@pytest.mark.parametrize("value", [0, -3, "50", True, 2.5])
def test_max_replicas_must_be_a_positive_whole_number(value: Any) -> None:
    from bot.domain.environments import DEFAULT_MAX_REPLICAS, parse_config

    data = {"environments": {"shop-prod": {"namespace": "shop", "max_replicas": value}}}
    _, problems = parse_config(data, "deploybot.yaml")
    assert problems == [
        "deploybot.yaml: environments.shop-prod.max_replicas: expected a whole number of at least 1 (the"
        f" largest scale that needs no second confirmation; default {DEFAULT_MAX_REPLICAS}), got {value!r}"
    ]
    config, problems = parse_config({"environments": {"shop-prod": {"namespace": "shop"}}}, "x.yaml")
    assert not problems and config.environments["shop-prod"].max_replicas == DEFAULT_MAX_REPLICAS == 50
