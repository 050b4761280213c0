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
        plan("scale", **params)


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
