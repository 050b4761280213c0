"""Diagnosis rules: realistic cluster objects in, grouped and ranked findings out."""

from __future__ import annotations

import copy
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.domain.diagnosis import FALLBACK_CODES, RULES, diagnose
from bot.domain.diagnosis_types import SEVERITIES, Finding, severity_rank
from bot.domain.findings import ACTION_IDS, FINDING_CODES
from bot.domain.releases import ReleaseOrder
from bot.domain.report import summarize
from tests import k8s_objects as k

WEB = "Deployment/shop-web"
NEW_HASH = "5c8d7f9b4"
ACR_IMAGE = f"{k.REGISTRY}/web:v1.4.3"


def order(state: str, **changes: Any) -> ReleaseOrder:
    base = ReleaseOrder(
        kind="Deployment",
        source="apps",
        target=WEB,
        revision="5",
        state=state,
        batch=1,
        batches=3,
        old_version="shop:v1.4.2",
        new_version="shop:v1.4.3",
        desired=6,
        updated=2,
        ready=2,
        available=2,
        started_at=k.NOW - timedelta(minutes=40),
        changed_at=k.NOW - timedelta(minutes=25),
        reason="",
        resource_version="81234",
    )
    return replace(base, **changes)


def run(objects: Sequence[k.Obj], orders: Sequence[ReleaseOrder] = (), **kwargs: Any) -> list[Finding]:
    return diagnose(k.snapshot(objects, **kwargs), orders)


def of(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code]


def pod_name(i: int, template_hash: str = "7d9f8c6b5", app: str = "shop-web") -> str:
    return k.web_pod_name(i, template_hash, app)


AUTH_MESSAGE = (
    f'Failed to pull image "{ACR_IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image '
    f'"{ACR_IMAGE}": failed to resolve reference "{ACR_IMAGE}": pull access denied, '
    "repository does not exist or may require authorization: server message: "
    "insufficient_scope: authorization failed"
)

TIMEOUT_MESSAGE = (
    f'Failed to pull image "{ACR_IMAGE}": rpc error: code = DeadlineExceeded desc = failed to pull and '
    f'unpack image "{ACR_IMAGE}": failed to resolve reference "{ACR_IMAGE}": failed to do request: '
    'Head "https://registry.cn-hangzhou.aliyuncs.com/v2/shop/web/manifests/v1.4.3": '
    "dial tcp 47.97.242.13:443: i/o timeout"
)


def invalid_image_pod() -> list[k.Obj]:
    image = "Shop/Web:V1.4.3"
    message = (
        f'Failed to apply default image tag "{image}": couldn\'t parse image reference "{image}": '
        "invalid reference format: repository name must be lowercase"
    )
    status = k.pod_status(
        "Pending",
        containers=[
            k.container_status(image=image, state=k.waiting("InvalidImageName", message), ready=False)
        ],
    )
    p = k.web_pod(0, containers=[k.container(image=image)], status=status)
    return [p, k.event(p, "InspectFailed", message, count=8, field_path=k.in_container())]


def prestop_pod() -> list[k.Obj]:
    p = k.web_pod(0, containers=[k.container(pre_stop=["/app/drain.sh"])], deleted_minutes_ago=-0.5)
    name = p["metadata"]["name"]
    message = (
        f'Exec lifecycle hook ([/app/drain.sh]) for Container "web" in Pod "{name}_shop(3d0c)" failed - '
        "error: rpc error: code = Unknown desc = failed to exec in container: failed to start exec: "
        'OCI runtime exec failed: exec failed: unable to start container process: exec: "/app/drain.sh": '
        'no such file or directory: unknown, exited with 127, message: ""'
    )
    return [p, k.event(p, "FailedPreStopHook", message, field_path=k.in_container())]


def scaled_to_zero() -> list[k.Obj]:
    return [
        k.deployment("shop-web", replicas=0, status={"observedGeneration": 5}),
        k.service("shop-web"),
        k.endpoints("shop-web"),
    ]


# ---------------------------------------------------------------- one positive case per situation


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], list[k.Obj]]
    code: str
    severity: str
    title: str
    evidence: tuple[str, ...] = ()
    detail: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    #: (action, target, params that must be included)
    actions: tuple[tuple[str, str, dict[str, str]], ...] = ()
    orders: tuple[ReleaseOrder, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "image-tag-not-found-7-pods",
        lambda: [*k.web_workload(), *k.image_pull_pods(7)],
        "ImagePullFailed",
        "critical",
        "7 pods: ImagePullBackOff on shop:v1.4.3 (tag not found)",
        evidence=("not found ×5", "container web", "(node cn-hangzhou.10.0.1.11)", "… and 2 more"),
        detail=("shop:v1.4.3", "tag", "回滚"),
        objects=(f"Pod/{pod_name(0, NEW_HASH)}", WEB),
        actions=(("events", f"Pod/{pod_name(0, NEW_HASH)}", {}), ("rollback_order", WEB, {})),
        orders=(order("deploying"),),
    ),
    Case(
        "image-registry-auth",
        lambda: k.image_pull_pods(2, ACR_IMAGE, AUTH_MESSAGE),
        "ImagePullFailed",
        "critical",
        f"2 pods: ImagePullBackOff on {ACR_IMAGE} (registry auth)",
        evidence=("pull access denied",),
        detail=("imagePullSecrets", ACR_IMAGE),
    ),
    Case(
        "image-invalid-name",
        invalid_image_pod,
        "ImagePullFailed",
        "critical",
        "1 pod: InvalidImageName on Shop/Web:V1.4.3 (invalid image name)",
        evidence=("invalid reference format", "×8"),
        detail=("InvalidImageName",),
    ),
    Case(
        "image-registry-unreachable",
        lambda: k.image_pull_pods(
            1,
            ACR_IMAGE,
            TIMEOUT_MESSAGE,
        ),
        "ImagePullFailed",
        "critical",
        f"1 pod: ErrImagePull on {ACR_IMAGE} (registry unreachable)",
        evidence=("i/o timeout ×5",),
        detail=("NAT",),
    ),
    Case(
        "crash-loop-deployment",
        lambda: [*k.web_workload(), *k.crash_loop_pods(3)],
        "CrashLoop",
        "critical",
        "3 pods: CrashLoopBackOff in container web of Deployment/shop-web, exit code 1",
        evidence=("last exit 1 (Error)", "restarts 12", "back-off ×48"),
        detail=("--previous", "exit 1"),
        objects=(f"Pod/{pod_name(2)}", WEB),
        actions=(
            ("logs", f"Pod/{pod_name(0)}", {"container": "web", "previous": "true"}),
            ("restart", WEB, {}),
            ("events", f"Pod/{pod_name(0)}", {}),
        ),
    ),
    Case(
        "crash-loop-statefulset-exit-127",
        lambda: [k.statefulset(), *k.crash_loop_pods(2, exit_code=127, statefulset_name="shop-db")],
        "CrashLoop",
        "critical",
        "2 pods: CrashLoopBackOff in container db of StatefulSet/shop-db, exit code 127",
        evidence=("Pod/shop-db-0 container db", "last exit 127"),
        detail=("exit 127",),
        actions=(("restart", "StatefulSet/shop-db", {}), ("logs", "Pod/shop-db-0", {"previous": "true"})),
    ),
    Case(
        "oom-killed-jvm-heap-over-limit",
        lambda: k.oom_pods(2),
        "OOMKilled",
        "critical",
        "2 pods: container java of Deployment/order-service OOMKilled (exit 137), memory limit 2Gi",
        evidence=(
            "OOMKilled exit 137",
            "restarts 6",
            "memory limit 2Gi, request 1Gi",
            "JVM heap -Xmx3g (in JAVA_OPTS)",
        ),
        detail=("-Xmx3g", "2Gi", "JVM"),
        actions=(("logs", f"Pod/{pod_name(0, '66b4f7c9d8', 'order-service')}", {"container": "java"}),),
    ),
    Case(
        "exit-137-without-probe-kill",
        lambda: k.oom_pods(1, reason="Error", xmx="-Xmx1g"),
        "OOMKilled",
        "critical",
        "1 pod: container java of Deployment/order-service OOMKilled (exit 137), memory limit 2Gi",
        evidence=("Error exit 137",),
        detail=("exit 137",),
    ),
    Case(
        "liveness-probe-kills",
        lambda: k.liveness_pods(2),
        "ProbeFailed",
        "critical",
        "2 pods: liveness and readiness probes failing on container web of Deployment/shop-web"
        " (container restarted)",
        evidence=(
            "Liveness probe failed",
            "connection refused ×12",
            "failed liveness probe, will be restarted ×4, restarts 4",
            "livenessProbe of web: httpGet :8080/healthz, initialDelaySeconds=3",
        ),
        detail=("initialDelaySeconds", "liveness", "就绪探针也在失败"),
        actions=(("logs", f"Pod/{pod_name(0)}", {"container": "web", "previous": "true"}),),
    ),
    Case(
        "readiness-probe-failing",
        lambda: k.readiness_pods(2),
        "ProbeFailed",
        "warning",
        "2 pods: readiness probe failing on container web of Deployment/shop-web",
        evidence=("Readiness probe failed: HTTP probe failed with statuscode: 503 ×340",),
        detail=("readiness", "Service"),
    ),
    Case(
        "configmap-missing",
        lambda: k.config_missing_pods(3),
        "ConfigMissing",
        "critical",
        "3 pods: ConfigMap shop-config not found",
        evidence=('CreateContainerConfigError: configmap "shop-config" not found ×9',),
        detail=("shop-config", "kubectl create configmap"),
        objects=("ConfigMap/shop-config", WEB),
        actions=(("events", f"Pod/{pod_name(0)}", {}),),
    ),
    Case(
        "secret-volume-missing",
        lambda: k.secret_volume_pod("shop-tls"),
        "ConfigMissing",
        "critical",
        "1 pod: Secret shop-tls not found",
        evidence=('FailedMount: MountVolume.SetUp failed for volume "tls" : secret "shop-tls" not found ×6',),
        objects=("Secret/shop-tls",),
    ),
    Case(
        "insufficient-cpu",
        lambda: [*k.pending_pods(3, k.INSUFFICIENT_CPU), *(k.node(n) for n in k.NODES)],
        "Unschedulable",
        "critical",
        "3 pods Pending, unschedulable: Insufficient cpu",
        evidence=("0/3 nodes are available: 3 Insufficient cpu", "×14", "requests of", "cpu=2 memory=4Gi"),
        detail=("requests", "ECS"),
    ),
    Case(
        "node-selector-without-jst-prefix",
        lambda: k.pending_pods(2, k.NODE_SELECTOR, node_selector={"pool": "shop"}),
        "Unschedulable",
        "critical",
        "2 pods Pending, unschedulable: node selector mismatch",
        evidence=("nodeSelector: pool=shop", "label key pool has no label.jst.com/ prefix"),
        detail=("label.jst.com/",),
    ),
    Case(
        "untolerated-taint",
        lambda: [
            *k.pending_pods(1, k.TAINTS),
            *(
                k.node(n, taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
                for n in k.NODES
            ),
        ],
        "Unschedulable",
        "critical",
        "1 pod Pending, unschedulable: untolerated taints",
        evidence=("had untolerated taint {dedicated: gpu}", "taints: dedicated=gpu:NoSchedule"),
        detail=("tolerations",),
    ),
    Case(
        "no-nodes",
        lambda: k.pending_pods(2, k.NO_NODES),
        "Unschedulable",
        "critical",
        "2 pods Pending, unschedulable: no nodes available",
        evidence=("no nodes available to schedule pods",),
        detail=("ECS",),
    ),
    Case(
        "resource-quota-full",
        lambda: [*k.web_workload(), *k.quota_refusal()],
        "QuotaExceeded",
        "critical",
        "1 ReplicaSet cannot create pods: exceeded quota compute-resources",
        evidence=(
            "exceeded quota: compute-resources",
            "×15",
            "ResourceQuota/compute-resources: pods 10/10 (full)",
        ),
        detail=("compute-resources",),
        objects=("ReplicaSet/shop-web-5c8d7f9b4", "ResourceQuota/compute-resources", WEB),
        actions=(("events", "ReplicaSet/shop-web-5c8d7f9b4", {}),),
    ),
    Case(
        "limit-range-refusal",
        k.limit_range_refusal,
        "QuotaExceeded",
        "critical",
        "1 ReplicaSet cannot create pods: outside the LimitRange",
        evidence=(
            "maximum memory usage per Container is 100Mi",
            "LimitRange/mem-limit-range: Container max memory=100Mi",
        ),
        detail=("LimitRange",),
        objects=("ReplicaSet/gateway-764140025", "Deployment/gateway", "LimitRange/mem-limit-range"),
    ),
    Case(
        "missing-pvc-is-a-volume-failure",
        k.missing_claim_pod,
        "VolumeFailed",
        "critical",
        "1 pod: PersistentVolumeClaim data-shop-db-0 not found",
        evidence=('persistentvolumeclaim "data-shop-db-0" not found',),
        detail=("PVC data-shop-db-0", "claimName", "volumeClaimTemplates"),
        objects=("Pod/shop-db-0", "StatefulSet/shop-db", "PersistentVolumeClaim/data-shop-db-0"),
    ),
    Case(
        "volume-node-affinity-conflict",
        k.volume_zone_conflict_pod,
        "Unschedulable",
        "critical",
        "1 pod Pending, unschedulable: volume node affinity conflict",
        evidence=("had volume node affinity conflict",),
        detail=("可用区", "WaitForFirstConsumer"),
    ),
    Case(
        "missing-storage-class",
        k.missing_storage_class_pvc,
        "VolumeFailed",
        "critical",
        "1 PVC Pending: StorageClass alicloud-ssd-fast not found (shop-data)",
        evidence=(
            'storageclass.storage.k8s.io "alicloud-ssd-fast" not found',
            "storageClass alicloud-ssd-fast",
        ),
        detail=("kubectl get storageclass",),
    ),
    Case(
        "run-container-error-is-not-a-crash-loop",
        lambda: [*k.web_workload(), *k.run_container_error_pods(2)],
        "CrashLoop",
        "critical",
        "2 pods: container web cannot start (RunContainerError) of Deployment/shop-web, exit code 128",
        evidence=("RunContainerError", "/app/start.sh: no such file or directory"),
        detail=("command/args",),
    ),
    Case(
        "two-containers-crashing-are-one-finding",
        lambda: [*k.web_workload(), *k.two_containers_crashing_pod()],
        "CrashLoop",
        "critical",
        "1 pod: CrashLoopBackOff in containers web, sidecar of Deployment/shop-web, exit code 1",
        evidence=("container web: CrashLoopBackOff", "container sidecar: CrashLoopBackOff"),
    ),
    Case(
        "not-ready-without-a-known-cause-quotes-the-cluster",
        lambda: [*k.web_workload(), *k.gated_pods(2)],
        "NotReady",
        "warning",
        "2 pods not ready in Deployment/shop-web: Unhealthy",
        evidence=("ReadinessGatesNotReady", "not ready for 15m", "newest Warning: Unhealthy: Target group"),
    ),
    Case(
        "failed-create-serviceaccount-not-found",
        k.failed_create_replicaset,
        "NotReady",
        "warning",
        "Deployment/shop-web cannot create pods: FailedCreate",
        evidence=('serviceaccount "shop-runner" not found', "×17"),
        detail=("serviceAccount", "webhook"),
    ),
    Case(
        "node-memory-pressure",
        k.memory_pressure_node,
        "NotReady",
        "warning",
        f"node {k.NODES[0]} under MemoryPressure",
        evidence=("MemoryPressure=True",),
    ),
    Case(
        "disk-multi-attach",
        k.multi_attach_pod,
        "VolumeFailed",
        "critical",
        "1 pod: volume Multi-Attach error (disk attached to another node)",
        evidence=("FailedAttachVolume: Multi-Attach error", "×3"),
        detail=("Multi-Attach", "NAS"),
        objects=("Pod/shop-db-0", "StatefulSet/shop-db", "PersistentVolumeClaim/data-shop-db-0"),
    ),
    Case(
        "pvc-waiting-for-provisioner",
        k.pending_pvc,
        "VolumeFailed",
        "critical",
        "1 PVC Pending: waiting for a volume to be created (shop-uploads)",
        evidence=("storageClass alicloud-nas", "nasplugin.csi.alibabacloud.com", "×162"),
        detail=("alicloud-nas-controller",),
        objects=("PersistentVolumeClaim/shop-uploads",),
    ),
    Case(
        "evicted-disk-pressure",
        lambda: [*k.evicted_pods(3), k.node(k.NODES[1], pressure=["DiskPressure"])],
        "Evicted",
        "warning",
        "3 pods evicted: node low on ephemeral-storage",
        evidence=(
            "The node was low on resource: ephemeral-storage",
            "Node/cn-hangzhou.10.0.1.12: DiskPressure=True",
        ),
        detail=("ephemeral-storage", "系统盘"),
        actions=(("delete_pod", f"Pod/{pod_name(20)}", {}), ("delete_pod", f"Pod/{pod_name(22)}", {})),
    ),
    Case(
        "node-pleg-not-ready",
        lambda: [*k.not_ready_node(), *k.web_workload(), *(k.web_pod(i) for i in range(3))],
        "NodeNotReady",
        "critical",
        "1 node NotReady (PLEG is not healthy): cn-hangzhou.10.0.1.12",
        evidence=(
            "Ready=False KubeletNotReady: container runtime is down, PLEG is not healthy: pleg was last seen",
            "(for 12m)",
            f"hosts 1 pod: {pod_name(1)}",
        ),
        detail=("systemctl restart kubelet", "systemd"),
        objects=("Node/cn-hangzhou.10.0.1.12", f"Pod/{pod_name(1)}"),
    ),
    Case(
        "stuck-terminating",
        lambda: k.stuck_pod(20),
        "StuckTerminating",
        "warning",
        "1 pod stuck Terminating (longest 20m)",
        evidence=(f"Pod/{pod_name(30)}: Terminating for 20m (grace 30s) on node cn-hangzhou.10.0.1.12",),
        detail=("kubelet",),
        actions=(("delete_pod", f"Pod/{pod_name(30)}", {"force": "true"}),),
    ),
    Case(
        "poststart-hook-126",
        lambda: k.hook_failed_pods(2),
        "HookFailed",
        "critical",
        "2 pods: PostStart hook failed in container web of Deployment/shop-web (exit 126)",
        evidence=("FailedPostStartHook: Exec lifecycle hook", "exited with 126", "×3"),
        detail=("exit 126", "PostStart"),
        actions=(("events", f"Pod/{pod_name(0)}", {}),),
    ),
    Case(
        "prestop-hook-failed",
        prestop_pod,
        "HookFailed",
        "warning",
        "1 pod: PreStop hook failed in container web of Deployment/shop-web (exit 127)",
        evidence=("FailedPreStopHook", "exited with 127"),
        detail=("terminationGracePeriodSeconds", "exit 127"),
    ),
    Case(
        "reused-tag-different-digests",
        k.stale_image_pods,
        "StaleImage",
        "warning",
        f"Image {k.REGISTRY}/web:v1.4.2 runs as 2 different digests on 3 pods",
        evidence=("2 pods", "1 pod", "imagePullPolicy: IfNotPresent"),
        detail=("imagePullPolicy: Always", "tag"),
    ),
    Case(
        "service-without-ready-endpoints",
        k.unready_service,
        "NoEndpoints",
        "critical",
        "1 service (shop-web): no ready endpoints",
        evidence=("Service/shop-web (selector app=shop-web): 0 ready endpoints, not ready:",),
        objects=("Service/shop-web", f"Pod/{pod_name(0)}"),
    ),
    Case(
        "service-of-workload-scaled-to-zero",
        scaled_to_zero,
        "NoEndpoints",
        "info",
        "1 service (shop-web): no endpoints, workload scaled to 0",
        evidence=("Deployment/shop-web scaled to 0 replicas",),
        actions=(("restore", WEB, {}),),
    ),
    Case(
        "release-paused-first-batch",
        lambda: k.web_workload(),
        "ReleasePaused",
        "info",
        "Release order paused at batch 1/3: Deployment/shop-web shop:v1.4.2 → shop:v1.4.3",
        evidence=("batch 1/3", "updated 2", "paused for 5m"),
        actions=(("resume_order", WEB, {}), ("close_order", WEB, {})),
        orders=(
            order(
                "paused",
                reason="DeploymentPaused: paused after batch 1",
                changed_at=k.NOW - timedelta(minutes=5),
            ),
        ),
    ),
    Case(
        "release-paused-too-long-blocks-the-next-release",
        lambda: k.web_workload(),
        "ReleasePaused",
        "warning",
        "Release order paused at batch 1/3: Deployment/shop-web shop:v1.4.2 → shop:v1.4.3, waiting 25m",
        evidence=("batch 1/3", "paused for 25m"),
        detail=("挡住下一次发布",),
        actions=(("resume_order", WEB, {}), ("close_order", WEB, {})),
        orders=(order("paused", reason="DeploymentPaused: paused after batch 1"),),
    ),
    Case(
        "release-failed-deadline",
        lambda: k.web_workload(),
        "ReleaseFailed",
        "critical",
        "Release order failed at batch 1/3: Deployment/shop-web shop:v1.4.2 → shop:v1.4.3"
        " (ProgressDeadlineExceeded)",
        evidence=(
            'reason: ProgressDeadlineExceeded: ReplicaSet "shop-web-5c8d7f9b4" has timed out progressing.',
        ),
        detail=("回滚",),
        actions=(("rollback_order", WEB, {}), ("close_order", WEB, {}), ("retry_failed", WEB, {})),
        orders=(
            order(
                "failed",
                reason='ProgressDeadlineExceeded: ReplicaSet "shop-web-5c8d7f9b4" has timed out progressing.',
            ),
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_finding(case: Case) -> None:
    findings = run(case.build(), case.orders, **case.kwargs)
    matching = of(findings, case.code)
    assert len(matching) == 1, [f.title for f in findings]
    found = matching[0]
    assert found.severity == case.severity
    assert found.title == case.title
    evidence = "\n".join(found.evidence)
    for expected in case.evidence:
        assert expected in evidence, evidence
    for expected in case.detail:
        assert expected in found.detail
    for expected in case.objects:
        assert expected in found.objects
    for action, target, params in case.actions:
        assert any(
            a.action == action and a.target == target and params.items() <= dict(a.params).items()
            for a in found.actions
        ), found.actions
    assert re.search(r"[\u4e00-\u9fff]", found.detail), "the detail speaks Chinese first"


def test_every_finding_code_has_a_rule_and_a_positive_case() -> None:
    assert set(RULES) | FALLBACK_CODES == FINDING_CODES
    assert {case.code for case in CASES} == FINDING_CODES


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_findings_are_well_formed(case: Case) -> None:
    for found in run(case.build(), case.orders):
        assert found.code in FINDING_CODES
        assert found.severity in SEVERITIES
        assert found.title and "\n" not in found.title
        assert found.detail and found.evidence and found.objects
        assert all(re.fullmatch(r"[A-Za-z]+/\S+", o) for o in found.objects), found.objects
        assert len(set(found.objects)) == len(found.objects)
        for action in found.actions:
            assert action.action in ACTION_IDS
            assert re.fullmatch(r"[A-Za-z]+/\S+", action.target)
        object_lines = [e for e in found.evidence if not e.startswith("… and")]
        assert len(object_lines) <= 5 + 3  # capped object lines plus a few context lines


# ---------------------------------------------------------------- grouping, ranking, health


def test_healthy_environment_has_no_findings() -> None:
    assert run(k.healthy_environment()) == []


def test_healthy_environment_with_a_completed_release_has_no_findings() -> None:
    done = order("completed", batch=3, updated=6, ready=6, available=6)
    assert run(k.healthy_environment(), [done]) == []


def test_seven_pods_with_one_cause_are_one_finding() -> None:
    findings = run([*k.web_workload(), *k.image_pull_pods(7)])
    assert len(findings) == 1
    (found,) = findings
    assert found.title.startswith("7 pods: ")
    assert sum(o.startswith("Pod/") for o in found.objects) == 7
    assert found.evidence[-1] == "… and 2 more"
    assert len(found.evidence) == 6


def test_different_images_are_different_findings() -> None:
    other = [o for o in k.image_pull_pods(2, "shop-worker:v9", AUTH_MESSAGE) if o["kind"] != "Pod"]
    pods = [o for o in k.image_pull_pods(2, "shop-worker:v9", AUTH_MESSAGE) if o["kind"] == "Pod"]
    for p in pods:  # other names than the first group's pods
        p["metadata"]["name"] += "-w"
    for e in other:
        e["involvedObject"]["name"] += "-w"
    findings = of(run([*k.image_pull_pods(3), *pods, *other]), "ImagePullFailed")
    assert sorted(f.title for f in findings) == [
        "2 pods: ImagePullBackOff on shop-worker:v9 (registry auth)",
        "3 pods: ImagePullBackOff on shop:v1.4.3 (tag not found)",
    ]


def test_findings_are_ranked_by_severity_then_by_objects_affected() -> None:
    objects = [
        *k.web_workload(),
        *k.image_pull_pods(7),  # critical, 8 objects
        *k.crash_loop_pods(2, statefulset_name="shop-db"),  # critical, 3 objects
        k.statefulset(),
        *k.stale_image_pods(f"{k.REGISTRY}/cron:v1"),  # warning
    ]
    findings = run(objects, [order("paused", changed_at=k.NOW - timedelta(minutes=5))])  # info
    assert [f.code for f in findings] == ["ImagePullFailed", "CrashLoop", "StaleImage", "ReleasePaused"]
    ranks = [severity_rank(f.severity) for f in findings]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(("threshold", "severity"), [(30 * 60.0, "info"), (20 * 60.0, "warning")])
def test_paused_warning_after_is_the_environments_own(threshold: float, severity: str) -> None:
    """Paused 25 minutes: a team that allows 30 sees info, one that allows 20 a blocking warning."""
    paused = order("paused", reason="DeploymentPaused: paused after batch 1")
    snapshot = k.snapshot(k.web_workload())
    (found,) = of(diagnose(snapshot, [paused], paused_warning_after=threshold), "ReleasePaused")
    assert found.severity == severity
    assert ("waiting 25m" in found.title) is (severity == "warning")


def test_same_severity_orders_more_objects_first() -> None:
    findings = run([*k.config_missing_pods(1), *k.secret_volume_pod(), *k.crash_loop_pods(1)])
    # three critical findings; the ConfigMap one has ConfigMap + pod + workload, like the others
    assert all(f.severity == "critical" for f in findings)
    sizes = [len(f.objects) for f in findings]
    assert sizes == sorted(sizes, reverse=True)


# ---------------------------------------------------------------- attribution and thresholds


def test_liveness_kills_are_probe_failures_not_oom_or_crash_loop() -> None:
    codes = {f.code for f in run(k.liveness_pods(2))}
    assert codes == {"ProbeFailed"}


def test_poststart_kills_are_hook_failures_not_crash_loop_or_oom() -> None:
    codes = {f.code for f in run(k.hook_failed_pods(2))}
    assert codes == {"HookFailed"}


def test_oom_long_ago_on_a_running_pod_is_a_warning() -> None:
    cs = k.container_status(
        "java",
        state=k.running(60 * 24),
        last_state=k.terminated(137, "OOMKilled", finished=60 * 30),
        restarts=1,
    )
    p = k.web_pod(0, status=k.pod_status(containers=[cs]))
    (found,) = run([p])
    assert (found.code, found.severity) == ("OOMKilled", "warning")


def test_old_restarts_of_a_healthy_container_are_not_a_crash_loop() -> None:
    cs = k.container_status(
        state=k.running(60 * 48), last_state=k.terminated(1, finished=60 * 49), restarts=7
    )
    assert run([k.web_pod(0, status=k.pod_status(containers=[cs]))]) == []


def test_many_recent_restarts_without_backoff_state_are_a_crash_loop() -> None:
    cs = k.container_status(
        state=k.running(0.2), last_state=k.terminated(2, finished=0.5), restarts=9, ready=False
    )
    (found,) = run([k.web_pod(0, status=k.pod_status(containers=[cs]))])
    assert found.code == "CrashLoop"
    assert "exit code 2" in found.title


def test_readiness_failures_of_a_crash_looping_container_are_not_a_probe_finding() -> None:
    objects = k.crash_loop_pods(2)
    for p in [o for o in objects if o["kind"] == "Pod"]:
        objects.append(
            k.event(
                p,
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                count=30,
                field_path=k.in_container(),
            )
        )
    assert [f.code for f in run(objects)] == ["CrashLoop"]


def test_an_old_sigkill_on_a_running_container_is_not_an_oom() -> None:
    cs = k.container_status(
        state=k.running(60 * 24), last_state=k.terminated(137, finished=60 * 25), restarts=1
    )
    assert run([k.web_pod(0, status=k.pod_status(containers=[cs]))]) == []


def test_rollback_is_offered_only_for_an_open_release_order() -> None:
    objects = [*k.web_workload(), *k.image_pull_pods(2)]
    for state, offered in (("deploying", True), ("failed", True), ("completed", False), ("closed", False)):
        (found,) = of(run(objects, [order(state)]), "ImagePullFailed")
        assert any(a.action == "rollback_order" for a in found.actions) is offered, state


def test_rollback_targets_the_kruise_rollout_driving_the_deployment() -> None:
    objects = [*k.web_workload(), *k.image_pull_pods(2), k.kruise_rollout()]
    kruise = order("paused", kind="Rollout", source="kruise", target="Rollout/shop-web")
    (found,) = of(run(objects, [kruise]), "ImagePullFailed")
    assert [a.target for a in found.actions if a.action == "rollback_order"] == ["Rollout/shop-web"]


def test_stuck_terminating_waits_five_minutes_past_the_deletion_deadline() -> None:
    assert run(k.stuck_pod(2)) == []
    assert [f.code for f in run(k.stuck_pod(6))] == ["StuckTerminating"]


def test_stuck_terminating_mentions_a_not_ready_node_and_finalizers() -> None:
    p = k.web_pod(30, node_index=1, deleted_minutes_ago=90, finalizers=["example.com/cleanup"])
    (found,) = of(run([p, *k.not_ready_node()]), "StuckTerminating")
    assert "on node cn-hangzhou.10.0.1.12 (NotReady), finalizers example.com/cleanup" in found.evidence[0]


def test_nodes_that_could_not_be_read_give_no_node_findings() -> None:
    objects = [*k.not_ready_node(), *(k.web_pod(i) for i in range(3))]
    findings = run(objects, unavailable={"nodes": 'forbidden: cannot list resource "nodes"'})
    assert of(findings, "NodeNotReady") == []


def test_in_a_big_cluster_only_nodes_hosting_the_environment_count() -> None:
    nodes = [k.node(f"cn-hangzhou.10.0.2.{i}") for i in range(10)]
    nodes.append(
        k.node(
            "cn-hangzhou.10.0.2.99",
            ready="Unknown",
            reason="NodeStatusUnknown",
            message="Kubelet stopped posting node status.",
        )
    )
    pods = [k.web_pod(i, node="cn-hangzhou.10.0.2.1") for i in range(2)]
    assert run([*nodes, *pods]) == []
    pods.append(k.web_pod(5, node="cn-hangzhou.10.0.2.99"))
    (found,) = run([*nodes, *pods])
    assert found.title == "1 node NotReady (kubelet stopped posting status): cn-hangzhou.10.0.2.99"


def test_quota_refusal_that_has_since_been_resolved_is_not_reported() -> None:
    objects = k.quota_refusal()
    rs = objects[0]
    rs["status"] = k.replicaset_status(4, 4)
    assert of(run(objects), "QuotaExceeded") == []


def test_quota_refusals_of_other_applications_are_ignored_with_a_selector() -> None:
    objects = [o for o in k.quota_refusal() if o["kind"] != "ReplicaSet"]  # the events only
    assert of(run(objects, selector="app=shop-web"), "QuotaExceeded") == []
    assert len(of(run(objects), "QuotaExceeded")) == 1  # whole namespace: every controller counts


def test_config_volume_mount_timeouts_are_not_volume_failures() -> None:
    codes = [f.code for f in run(k.secret_volume_pod())]
    assert codes == ["ConfigMissing"]


def test_pvc_waiting_for_first_consumer_is_normal() -> None:
    claim = k.pvc("shop-cache", phase="Pending", created=60)
    waiting = k.event(
        claim,
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
        type_="Normal",
        component="persistentvolume-controller",
        count=20,
    )
    assert run([claim, waiting]) == []


def test_a_young_pending_pvc_is_still_provisioning() -> None:
    assert run([k.pvc("shop-new", phase="Pending", created=1)]) == []


def test_pods_waiting_on_a_pending_pvc_are_explained_by_the_pvc() -> None:
    message = (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes"
    )
    pods = k.pending_pods(1, message)
    pods[0]["spec"]["volumes"] = [{"name": "uploads", "persistentVolumeClaim": {"claimName": "shop-uploads"}}]
    findings = run([*pods, *k.pending_pvc()])
    assert [f.code for f in findings] == ["VolumeFailed"]
    assert f"Pod/{pod_name(10)}" in findings[0].objects


def test_key_missing_in_configmap() -> None:
    cs = k.container_status(
        state=k.waiting(
            "CreateContainerConfigError", "couldn't find key DB_HOST in ConfigMap shop/shop-config"
        ),
        ready=False,
    )
    (found,) = run([k.web_pod(0, status=k.pod_status("Pending", containers=[cs]))])
    assert found.title == "1 pod: key DB_HOST missing in ConfigMap shop-config"


def test_evicted_offers_at_most_five_delete_buttons() -> None:
    (found,) = run(k.evicted_pods(8))
    assert [a.action for a in found.actions] == ["delete_pod"] * 5
    assert found.title == "8 pods evicted: node low on ephemeral-storage"


# ---------------------------------------------------------------- partial and odd input never raises

PARTIAL_POD_STATUSES: list[Any] = [
    None,
    {},
    {"phase": "Pending"},
    {"phase": "Running", "containerStatuses": None},
    {"phase": "Running", "containerStatuses": [{}]},
    {"phase": "Running", "containerStatuses": [{"name": "web", "state": None, "lastState": None}]},
    {
        "phase": "Running",
        "containerStatuses": [{"name": "web", "state": {"waiting": None}, "restartCount": None}],
    },
    {
        "phase": "Running",
        "containerStatuses": [{"name": "web", "lastState": {"terminated": {"exitCode": "137"}}}],
    },
    {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]},
    {
        "phase": "Running",
        "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ErrImagePull"}}}],
    },
    {"phase": "Running", "containerStatuses": "garbage"},
    {"phase": "Failed", "reason": "Evicted"},
    {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
    },
    {"phase": "Pending", "conditions": None},
    {"phase": "Running", "conditions": [None, "x", {"type": "Ready"}]},
]


@pytest.mark.parametrize("status", PARTIAL_POD_STATUSES)
def test_partial_pod_status_does_not_crash(status: Any) -> None:
    p = k.web_pod(0)
    if status is None:
        p.pop("status", None)
    else:
        p["status"] = status
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare"}}
    odd_event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "reason": "FailedScheduling"}
    odd_events = [
        odd_event,
        {**odd_event, "involvedObject": "not-a-dict"},
        {
            **odd_event,
            "involvedObject": {"kind": "Pod", "name": p["metadata"]["name"]},
            "count": "x",
            "message": None,
        },
        {
            **odd_event,
            "involvedObject": {"kind": "ReplicaSet", "name": "rs"},
            "reason": "FailedCreate",
            "message": "exceeded quota: q",
        },
    ]
    others = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}},
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n2"},
            "status": {"conditions": [{"type": "Ready"}]},
        },
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s2"},
            "spec": {"selector": {"app": "x"}},
        },
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "s2"}, "subsets": None},
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "c"},
            "status": {"phase": "Lost"},
        },
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}},
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "rs", "ownerReferences": ["x", {}]},
        },
    ]
    odd_order = order(
        "failed", old_version=None, new_version=None, started_at=None, changed_at=None, reason=""
    )
    findings = run([p, bare, *odd_events, *others], [odd_order])
    assert all(f.code in FINDING_CODES for f in findings)


def _mutilate(value: Any, rng: random.Random) -> Any:
    """Drop keys, null values and truncate lists at random, as partial API output might."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.15 and key not in ("kind", "apiVersion"):
                continue
            out[key] = None if roll < 0.2 and key not in ("kind", "apiVersion") else _mutilate(item, rng)
        return out
    if isinstance(value, list):
        return [_mutilate(item, rng) for item in value if rng.random() > 0.15]
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mutilated_objects_do_not_crash(case: Case) -> None:
    rng = random.Random(case.id)
    objects = case.build()
    for _ in range(15):
        broken = [_mutilate(copy.deepcopy(o), rng) for o in objects]
        broken = [o for o in broken if isinstance(o.get("kind"), str)]
        for found in run(broken, case.orders):
            assert found.code in FINDING_CODES


def test_naive_snapshot_time_does_not_crash() -> None:
    naive = datetime(2026, 11, 21, 10, 0)
    assert [f.code for f in run(k.stuck_pod(20), taken_at=naive)] == ["StuckTerminating"]


# ---------------------------------------------------------------- scale


def test_a_thousand_pods_and_five_thousand_events_diagnose_quickly() -> None:
    objects: list[k.Obj] = [*k.web_workload(replicas=1000)]
    for i in range(1000):
        p = k.web_pod(i)
        objects.append(p)
        for j in range(5):
            objects.append(
                k.event(p, "Unhealthy", f"Readiness probe failed: timeout {j}", field_path=k.in_container())
            )
    snapshot = k.snapshot(objects)
    start = time.perf_counter()
    diagnose(snapshot, [])
    assert time.perf_counter() - start < 1.0


def test_ready_count_follows_the_pods_ready_condition() -> None:
    """Containers all ready but a readiness gate unmet: kubectl and Services say not ready; so do we."""
    gated = k.web_pod(0, status=k.pod_status(containers=[k.container_status()]))
    for condition in gated["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition.update(status="False", reason="ReadinessGatesNotReady")
    plain = k.web_pod(1, status=k.pod_status(containers=[k.container_status()]))
    snap = k.snapshot([gated, plain])
    assert "2 pods, 1 ready" in summarize(snap, [], [])
