"""The on-call Lease on a real API server, as the bot's user with exactly the chart's Lease rules:
one holder, renewal, takeover after expiry, and one winner when replicas race for it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from bot.adapters.kube import KubeClient
from bot.adapters.lease import LeaseElector
from tests.conftest import REPO
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip

T0 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def chart_lease_rules() -> list[dict[str, Any]]:
    """The rules of the chart's `-oncall-lease` Role, read from its template."""
    text = (REPO / "helm" / "deploybot" / "templates" / "rbac.yaml").read_text()
    block = text.split("-oncall-lease", 1)[1].split("rules:", 1)[1].split("---", 1)[0]
    rules: list[dict[str, Any]] = yaml.safe_load(block)
    return rules


@pytest.fixture
def lease_ns(cluster: Cluster) -> str:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    ns = cluster.namespace("lease")
    cluster.grant(ns, "deploybot", chart_lease_rules())
    return ns


def elector(ns: str, identity: str, duration: int = 15) -> LeaseElector:
    client = KubeClient.connect(kubeconfig=kubeconfig_or_skip(BOT_KUBECONFIG_VAR))
    return LeaseElector(client, ns, identity, duration=duration)


def test_one_holder_renews_and_another_takes_over_after_expiry(lease_ns: str, cluster: Cluster) -> None:
    a, b = elector(lease_ns, "deploybot-a"), elector(lease_ns, "deploybot-b")
    assert a.try_acquire(T0) and not b.try_acquire(T0)
    assert a.try_acquire(T0 + timedelta(seconds=10))  # renewed
    assert not b.try_acquire(T0 + timedelta(seconds=20))  # 10 + 15 > 20: still a's
    assert b.try_acquire(T0 + timedelta(seconds=30))  # a stopped renewing (its pod died): b leads
    assert not a.try_acquire(T0 + timedelta(seconds=31)) and not a.leading
    lease = cluster.admin.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{lease_ns}/leases/deploybot-oncall"
    )
    assert lease["spec"]["holderIdentity"] == "deploybot-b" and lease["spec"]["leaseTransitions"] == 1


def test_replicas_racing_for_an_expired_lease_have_one_winner(lease_ns: str) -> None:
    assert elector(lease_ns, "deploybot-old").try_acquire(T0)
    racers = [elector(lease_ns, f"deploybot-{i}") for i in range(6)]
    barrier = threading.Barrier(len(racers))
    won: list[bool] = []

    def race(candidate: LeaseElector) -> None:
        barrier.wait()
        won.append(candidate.try_acquire(T0 + timedelta(seconds=60)))

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False] * 5 + [True]


def test_without_the_rules_nobody_leads(cluster: Cluster) -> None:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    ns = cluster.namespace("nolease")  # no Role granted: the bot may not touch Leases here
    assert not elector(ns, "deploybot-a").try_acquire(T0)
