"""Every diagnosis case, loaded into a real API server and read back through the real client.

The unit tests (test_diagnosis.py) feed the rules objects directly; here the same objects go
through create + /status + list, so what the API server keeps and returns is what is diagnosed.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.adapters.kube import KubeClient
from bot.domain.environments import Environment
from bot.errors import ClusterError
from bot.inspection import inspect_async
from tests import k8s_objects as k
from tests.kube_cluster import Cluster, kubeconfig_or_skip
from tests.test_diagnosis import CASES, Case
from tests.test_inspect_cli import load

#: deletionTimestamp cannot be written on create, and waiting 5 minutes past it is not a test.
NEEDS_THE_CLOCK = {"StuckTerminating"}
CLUSTER_CASES = [c for c in CASES if not c.orders and not c.kwargs and c.code not in NEEDS_THE_CLOCK]


def inspect_in(namespace: str) -> Any:
    client = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    try:
        return asyncio.run(inspect_async(client, Environment(name="shop-prod", namespace=namespace), None))
    finally:
        client.close()


@pytest.fixture
def live_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects are stamped relative to the real clock, since the API server stamps with it too."""
    monkeypatch.setattr(k, "NOW", datetime.now(UTC).replace(microsecond=0))


@pytest.mark.parametrize("case", CLUSTER_CASES, ids=[c.id for c in CLUSTER_CASES])
def test_case_through_the_api_server(cluster: Cluster, live_clock: None, case: Case) -> None:
    ns = cluster.namespace()
    load(cluster, ns, copy.deepcopy(case.build()))
    result = inspect_in(ns)
    matching = [f for f in result.findings if f.code == case.code]
    assert len(matching) == 1, [f.title for f in result.findings]
    assert matching[0].severity == case.severity
    assert matching[0].title == case.title


def test_paused_deployment_is_a_paused_order_with_resume_and_close(
    cluster: Cluster, live_clock: None
) -> None:
    ns = cluster.namespace()
    objects = k.web_workload()
    for obj in objects:
        if obj["kind"] == "Deployment":
            obj["spec"]["paused"] = True
    load(cluster, ns, objects)
    result = inspect_in(ns)
    current = [o for o in result.orders if o.current]
    assert current and current[0].state == "paused"
    paused = [f for f in result.findings if f.code == "ReleasePaused"]
    assert paused, [f.title for f in result.findings]
    offered = {(a.action, a.target) for a in paused[0].actions}
    assert {("resume_order", current[0].target), ("close_order", current[0].target)} <= offered


def test_progress_deadline_exceeded_is_a_failed_order_with_rollback(
    cluster: Cluster, live_clock: None
) -> None:
    ns = cluster.namespace()
    objects = k.web_workload()
    for obj in objects:
        if obj["kind"] == "Deployment":
            obj["status"]["conditions"] = [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": 'ReplicaSet "shop-web-5c8d7f9b4" has timed out progressing.',
                    "lastUpdateTime": k.ts(1),
                    "lastTransitionTime": k.ts(1),
                }
            ]
    load(cluster, ns, objects)
    result = inspect_in(ns)
    failed = [f for f in result.findings if f.code == "ReleaseFailed"]
    assert failed, [f.title for f in result.findings]
    assert {"rollback_order", "close_order"} <= {a.action for a in failed[0].actions}
    assert "ProgressDeadlineExceeded" in "\n".join(failed[0].evidence) + failed[0].detail


def test_a_namespace_that_does_not_exist_is_an_error_not_healthy(cluster: Cluster) -> None:
    with pytest.raises(ClusterError, match="namespace no-such-ns-4242 does not exist"):
        inspect_in("no-such-ns-4242")


def test_an_empty_namespace_that_exists_is_healthy(cluster: Cluster) -> None:
    result = inspect_in(cluster.namespace("empty"))
    # nodes are cluster-wide (other tests leave some): nothing found in the namespace itself
    assert all(o.startswith("Node/") for f in result.findings for o in f.objects)
    assert result.snapshot.pods == ()


def test_the_existence_probe_stores_nothing(cluster: Cluster) -> None:
    ns = cluster.namespace("probe")
    inspect_in(ns)  # empty: the probe ran
    events = cluster.admin.request("GET", f"/api/v1/namespaces/{ns}/events")
    assert events["items"] == []
