"""When no rule names the cause: an environment whose pods are not ready, whose workloads cannot
create pods, or whose nodes are under pressure is never "healthy". These findings say what is
not ready and quote the newest Warning events, so the reader starts from the cluster's own words.

They run after the named rules and only cover what those left unexplained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.domain._diag_base import (
    Context,
    Group,
    duration,
    ev_line,
    ev_reason,
    events_action,
    finding,
    get,
    is_terminating,
    items,
    mapping,
    obj_name,
    on_node,
    plural,
    pod_condition,
    pod_phase,
    text,
)
from bot.domain.diagnosis_types import ActionRef, Finding
from bot.domain.snapshot import Obj, event_last_seen, ref

CODE = "NotReady"
#: a pod younger than this, or not ready for less, is still starting: not yet a finding
GRACE_SECONDS = 120
#: a Deployment Available=False for this long is worth saying even with every pod explained
UNAVAILABLE_SECONDS = 600
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
NEWEST_WARNINGS = 3


def unexplained(ctx: Context, found: Sequence[Finding]) -> list[Finding]:
    covered = {o for f in found for o in f.objects}
    findings = [*_pods_not_ready(ctx, covered), *_workloads_without_pods(ctx, covered)]
    return findings + _node_pressure(ctx, covered)


def _newest_warnings(ctx: Context, objects: Iterable[tuple[str, str]]) -> list[Obj]:
    warnings = [
        event
        for kind, object_name in objects
        for event in ctx.events(kind, object_name)
        if text(event.get("type")) == "Warning"
    ]
    return sorted(warnings, key=_seen, reverse=True)[:NEWEST_WARNINGS]


def _seen(event: Obj) -> float:
    seen = event_last_seen(event)
    return seen.timestamp() if seen is not None else 0.0


def _not_ready_for(ctx: Context, pod: Obj) -> float | None:
    """Seconds the pod has been not ready; None when it is ready, done or still young."""
    if is_terminating(pod) or pod_phase(pod) in ("Succeeded", "Failed"):
        return None
    ready = pod_condition(pod, "Ready")
    if not ready or text(ready.get("status")) == "True":
        return None  # ready, or no kubelet has reported on it yet (the scheduling rules cover that)
    since = ctx.age(ready.get("lastTransitionTime")) or ctx.age(get(pod, "metadata", "creationTimestamp"))
    if since is None or since < GRACE_SECONDS:
        return None
    return since


def _pods_not_ready(ctx: Context, covered: set[str]) -> list[Finding]:
    groups: dict[str, Group] = {}
    for pod in ctx.pods:
        pod_ref = ref("Pod", obj_name(pod))
        workload = ctx.workload_of(pod) or pod_ref
        if pod_ref in covered:
            continue
        since = _not_ready_for(ctx, pod)
        if since is None:
            continue
        group = groups.setdefault(workload, Group())
        group.add_pod(ctx, pod)
        ready = pod_condition(pod, "Ready")
        why = " ".join(filter(None, (text(ready.get("reason")), text(ready.get("message")))))
        state = f"{pod_phase(pod) or 'Pending'}, not ready for {duration(since)}"
        group.lines.append(f"{pod_ref}: {state}" + (f" ({why})" if why else "") + on_node(pod))
    findings = []
    for workload, group in groups.items():
        involved = [("Pod", p.removeprefix("Pod/")) for p in group.pods]
        owner = "" if workload.startswith("Pod/") else workload
        if owner:
            kind, _, owner_name = owner.partition("/")
            involved.append((kind, owner_name))
        warnings = _newest_warnings(ctx, involved)
        group.lines += [f"newest Warning: {ev_line(e)}" for e in warnings]
        cause = f": {ev_reason(warnings[0])}" if warnings else ""
        title = f"{plural(len(group.pods), 'pod')} not ready{f' in {owner}' if owner else ''}{cause}"
        detail = (
            "这些 Pod 没有就绪,已知规则都不能解释原因:先看证据里最新的 Warning 事件(原文),"
            "再 describe Pod 看各容器状态和探针;事件为空时看容器日志。"
        )
        findings.append(finding(CODE, "warning", title, detail, group, events_action(group)))
    return findings


def _workloads_without_pods(ctx: Context, covered: set[str]) -> list[Finding]:
    """A controller that cannot create pods (FailedCreate: service account missing, webhook
    denied...), or a Deployment unavailable for long, with nothing else explaining it."""
    findings = []
    for deployment in items(ctx.snapshot.deployments):
        name = obj_name(deployment)
        workload = ref("Deployment", name)
        if workload in covered:
            continue
        replicasets = [
            obj_name(rs)
            for rs in items(ctx.snapshot.replicasets)
            if any(text(o.get("name")) == name for o in items(get(rs, "metadata", "ownerReferences")))
        ]
        failed_create = [
            e
            for rs in replicasets
            for e in ctx.events("ReplicaSet", rs, ("FailedCreate",))
            if "exceeded quota" not in text(e.get("message"))  # QuotaExceeded says that one
        ]
        available = next(
            (
                mapping(c)
                for c in items(get(deployment, "status", "conditions"))
                if c.get("type") == "Available"
            ),
            {},
        )
        unavailable_for = (
            ctx.age(available.get("lastTransitionTime")) if text(available.get("status")) == "False" else None
        )
        long_unavailable = unavailable_for is not None and unavailable_for >= UNAVAILABLE_SECONDS
        if not failed_create and not long_unavailable:
            continue
        group = Group()
        group.workloads[workload] = None
        if long_unavailable and unavailable_for is not None:
            message = text(available.get("message")) or text(available.get("reason"))
            group.lines.append(f"{workload}: Available=False for {duration(unavailable_for)}: {message}")
        warnings = sorted(failed_create, key=_seen, reverse=True)[:NEWEST_WARNINGS]
        warnings = warnings or _newest_warnings(
            ctx, [("Deployment", name), *(("ReplicaSet", r) for r in replicasets)]
        )
        group.lines += [f"newest Warning: {ev_line(e)}" for e in warnings]
        if failed_create:
            title = f"{workload} cannot create pods: FailedCreate"
            detail = (
                "控制器创建 Pod 被 API 拒绝(FailedCreate):看证据里的原文,常见是 serviceAccount 不存在、"
                "准入 webhook 拒绝、PodSecurity/安全策略不允许;改正后控制器会自动重试。"
            )
        else:
            title = f"{workload} unavailable for {duration(unavailable_for or 0)}"
            detail = "Deployment 长时间不可用(Available=False):看证据里的事件和 Pod 状态。"
        findings.append(finding(CODE, "warning", title, detail, group, [ActionRef("events", workload)]))
    return findings


def _node_pressure(ctx: Context, covered: set[str]) -> list[Finding]:
    hosting = {text(get(p, "spec", "nodeName")) for p in ctx.pods}
    findings = []
    for node_name in sorted(hosting & set(ctx.nodes)):
        node_ref = ref("Node", node_name)
        if node_ref in covered:
            continue
        pressed = [
            mapping(c)
            for c in items(get(ctx.nodes[node_name], "status", "conditions"))
            if c.get("type") in PRESSURES and text(c.get("status")) == "True"
        ]
        if not pressed:
            continue
        group = Group()
        group.add(node_ref)
        for condition in pressed:
            reason = text(condition.get("reason"))
            message = text(condition.get("message"))
            group.lines.append(f"{node_ref}: {condition.get('type')}=True {reason}: {message}".rstrip(": "))
        kinds = ", ".join(text(c.get("type")) for c in pressed)
        title = f"node {node_name} under {kinds}"
        detail = (
            "节点资源吃紧,kubelet 会开始驱逐 Pod、拒绝新 Pod:内存压力看用量高的 Pod 和 requests,"
            "磁盘压力清理系统盘/镜像,PID 压力查进程泄漏;必要时给节点扩容或把 Pod 挪走。"
        )
        findings.append(finding(CODE, "warning", title, detail, group))
    return findings
