"""After a change: the channel's one-liner, the undo offered, and when the cluster shows it."""

from __future__ import annotations

from bot.domain import after_action
from bot.domain.actions import Plan
from bot.slack import blocks
from tests import k8s_objects as k


def _plan(action: str, description: str) -> Plan:
    return Plan(action, "shop-prod", "shop", "Deployment/shop-web", True, description, (), "4/abc", {})


def test_headline_drops_where_and_asides() -> None:
    scale = _plan(
        "scale",
        "scale Deployment/shop-web from 3 to 0 replicas in namespace shop (remembering 3 for restore)",
    )
    assert after_action.headline(scale) == "scale Deployment/shop-web from 3 to 0 replicas"
    restart = _plan("restart", "restart Deployment/shop-web: replace its 2 pod(s) one batch at a time")
    assert after_action.headline(restart) == "restart Deployment/shop-web"


def test_undo_pairs() -> None:
    assert after_action.undo("scale", {"replicas": "0"}) == ("restore", {})
    assert after_action.undo("restore", {}) == ("scale", {"replicas": "0"})
    assert after_action.undo("pause_order", {}) == ("resume_order", {})
    assert after_action.undo("resume_order", {}) == ("pause_order", {})
    assert after_action.undo("scale", {"replicas": "5"}) is None  # the old count is not known here
    assert after_action.undo("rollback_order", {}) is None
    assert after_action.undo("restart", {}) is None


def _web(generation: int, observed: int | None, replicas: int, current: int, updated: int) -> k.Obj:
    web = k.deployment(replicas=replicas)
    web["metadata"]["generation"] = generation
    status = {"replicas": current, "updatedReplicas": updated}
    if observed is not None:
        status["observedGeneration"] = observed
    web["status"] = status
    return web


def test_settled_waits_for_the_controller_and_the_pods() -> None:
    def settled(web: k.Obj) -> bool:
        return after_action.settled(k.snapshot([web]), "Deployment/shop-web")

    assert not settled(_web(5, 4, 0, 3, 3))  # the controller has not seen the new spec
    assert not settled(_web(5, None, 0, 3, 3))
    assert not settled(_web(5, 5, 0, 3, 0))  # seen, pods still going
    assert settled(_web(5, 5, 0, 0, 0))
    assert settled(_web(6, 6, 3, 3, 3))
    assert after_action.settled(k.snapshot([]), "Deployment/gone")  # nothing to wait for
    assert after_action.settled(k.snapshot([]), "Pod/shop-web-1")


def test_people_become_mentions_and_nothing_else_is_live() -> None:
    text = blocks.people("U0STRANGER may not restart: operators are U012ABCDEF, S0ONCALLGRP <!channel>")
    assert "<@U0STRANGER>" in text and "<@U012ABCDEF>" in text and "<!subteam^S0ONCALLGRP>" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert blocks.people("Deployment/shop-web in namespace shop") == "Deployment/shop-web in namespace shop"


def test_a_forbidden_list_is_one_short_line() -> None:
    why = (
        "the kubeconfig user may not list nodes (cluster-wide) (403): grant `list` on nodes in the chart's "
        'Role/ClusterRole (API: nodes is forbidden: User "deploybot" cannot list resource "nodes" ...)'
    )
    message = blocks.inspection(
        environment="shop-prod", summary="shop-prod: healthy", orders=[], findings=[], buttons=[],
        kb_titles={}, unavailable={"nodes": why}, taken_at=k.NOW,
    )  # fmt: skip
    lines = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    [note] = [line for line in lines if "nodes" in line]
    assert len(note) < 100 and "RBAC" in note and "ClusterRole" not in note
