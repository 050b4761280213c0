"""Rules about controllers, nodes, services and release orders.

QuotaExceeded, NodeNotReady, NoEndpoints, ReleasePaused, ReleaseFailed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.domain._diag_base import (
    Context,
    Group,
    as_int,
    controller_of,
    duration,
    ev_line,
    ev_message,
    finding,
    get,
    is_terminating,
    items,
    join_names,
    mapping,
    memory_bytes,
    node_of,
    obj_labels,
    obj_name,
    plural,
    seconds_between,
    shorten,
    text,
)
from bot.domain._pod_rules import node_ready
from bot.domain.diagnosis_types import ActionRef, Finding
from bot.domain.releases import ReleaseOrder
from bot.domain.snapshot import Obj, ref

# ---------------------------------------------------------------- QuotaExceeded

_EXCEEDED_QUOTA = re.compile(r"exceeded quota: ([\w.-]+)")
_FAILED_QUOTA = re.compile(r"failed quota: ([\w.-]+)")
_LIMIT_RANGE = re.compile(
    r"(?:maximum|minimum) [\w-]+ usage per (?:Container|Pod) is|max limit to request ratio per", re.I
)
#: controllers whose FailedCreate events say why they could not create pods
_CREATORS = ("ReplicaSet", "StatefulSet", "Deployment", "DaemonSet", "Job")


def _refusal(message: str) -> tuple[str, str] | None:
    """("quota", name) / ("quota-spec", name) / ("limitrange", "") when a message is such a refusal."""
    found = _EXCEEDED_QUOTA.search(message)
    if found:
        return "quota", found.group(1)
    found = _FAILED_QUOTA.search(message)
    if found:
        return "quota-spec", found.group(1)
    if _LIMIT_RANGE.search(message):
        return "limitrange", ""
    return None


def _still_short(controller: Obj | None) -> bool:
    """The controller still has fewer pods than it wants (or we cannot tell)."""
    if controller is None:
        return True
    for condition in items(get(controller, "status", "conditions")):
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            return True
    desired = as_int(get(controller, "spec", "replicas"))
    current = as_int(get(controller, "status", "replicas")) or 0
    return (1 if desired is None else desired) > current


def _quota_usage(quota: Obj) -> str:
    hard = mapping(get(quota, "status", "hard")) or mapping(get(quota, "spec", "hard"))
    used = mapping(get(quota, "status", "used"))
    full, other = [], []
    for resource, limit in hard.items():
        in_use = used.get(resource)
        entry = f"{resource} {in_use if in_use is not None else '?'}/{limit}"
        used_n, hard_n = memory_bytes(in_use), memory_bytes(limit)
        if used_n is not None and hard_n is not None and used_n >= hard_n:
            full.append(entry + " (full)")
        else:
            other.append(entry)
    return ", ".join([*full, *other][:5])


def _limit_range_lines(ctx: Context) -> list[str]:
    lines = []
    for limit_range in items(ctx.snapshot.limitranges)[:2]:
        parts = []
        for limit in items(get(limit_range, "spec", "limits")):
            for key in ("max", "min"):
                values = mapping(limit.get(key))
                if values:
                    shown = " ".join(f"{k}={v}" for k, v in values.items())
                    parts.append(f"{text(limit.get('type')) or '?'} {key} {shown}")
        if parts:
            lines.append(f"LimitRange/{obj_name(limit_range)}: {'; '.join(parts)}")
    return lines


def quota_exceeded(ctx: Context) -> list[Finding]:
    known: dict[str, dict[str, Obj]] = {
        "ReplicaSet": ctx.replicasets,
        "StatefulSet": ctx.statefulsets,
        "Deployment": ctx.deployments,
    }
    whole_namespace = not ctx.snapshot.selector
    groups: dict[tuple[str, str], Group] = {}
    for kind in _CREATORS:
        for controller_name, events in ctx.events_of_kind(kind):
            controller = known.get(kind, {}).get(controller_name)
            if controller is None and not whole_namespace:
                continue  # another application's controller in a shared namespace
            if not _still_short(controller):
                continue
            for event in events:
                if event.get("reason") != "FailedCreate":
                    continue
                refusal = _refusal(ev_message(event))
                if refusal is None:
                    continue
                group = groups.setdefault(refusal, Group())
                group.add(ref(kind, controller_name))
                parent = controller_of(controller) if controller is not None else None
                if parent is not None:
                    group.workloads[ref(*parent)] = None
                group.lines.append(f"{kind}/{controller_name}: {ev_line(event)}")
    # a ReplicaFailure condition without (surviving) events
    for rs_name, replicaset in ctx.replicasets.items():
        for condition in items(get(replicaset, "status", "conditions")):
            if condition.get("type") != "ReplicaFailure" or condition.get("status") != "True":
                continue
            refusal = _refusal(text(condition.get("message")))
            if refusal is None or ref("ReplicaSet", rs_name) in groups.get(refusal, Group()).others:
                continue
            group = groups.setdefault(refusal, Group())
            group.add(ref("ReplicaSet", rs_name))
            parent = controller_of(replicaset)
            if parent is not None:
                group.workloads[ref(*parent)] = None
            message = shorten(text(condition.get("message")))
            reason = text(condition.get("reason"))
            group.lines.append(f"ReplicaSet/{rs_name}: ReplicaFailure {reason}: {message}")
    quotas = {obj_name(q): q for q in items(ctx.snapshot.resourcequotas)}
    findings = []
    for (kind, quota_name), group in groups.items():
        controllers = list(group.others)
        kinds = {c.partition("/")[0] for c in controllers}
        who = plural(len(controllers), kinds.pop() if len(kinds) == 1 else "controller")
        if kind == "limitrange":
            title = f"{who} cannot create pods: outside the LimitRange"
            detail = (
                "容器的 requests/limits 超出命名空间 LimitRange 允许的范围(每容器/每 Pod 的最大最小值或 "
                "limit/request 比例):把容器规格调到范围内后重新发布,或请管理员调整 LimitRange。"
            )
            group.context += _limit_range_lines(ctx)
            for limit_range in items(ctx.snapshot.limitranges):
                group.add(ref("LimitRange", obj_name(limit_range)))
        else:
            quota = quotas.get(quota_name)
            group.add(ref("ResourceQuota", quota_name))
            if quota is not None and _quota_usage(quota):
                group.context.append(f"ResourceQuota/{quota_name}: {_quota_usage(quota)}")
            if kind == "quota":
                title = f"{who} cannot create pods: exceeded quota {quota_name}"
                detail = (
                    f"命名空间的 ResourceQuota {quota_name} 已用满,控制器建不出新 Pod:请管理员提高配额,"
                    "或缩容/清理该命名空间里的其他工作负载,或调小容器 requests/limits。"
                )
            else:
                title = f"{who} cannot create pods: quota {quota_name} requires requests/limits"
                detail = (
                    f"ResourceQuota {quota_name} 要求每个容器都声明 requests/limits:在容器里补上 "
                    "resources.requests/limits(或请管理员用 LimitRange 设默认值)后重新发布。"
                )
        actions = [ActionRef("events", controllers[0])] if controllers else []
        findings.append(finding("QuotaExceeded", "critical", title, detail, group, actions))
    return findings


# ---------------------------------------------------------------- NodeNotReady

#: with this many nodes or fewer every NotReady node matters to the environment
FEW_NODES = 5
_NODE_TEXT: dict[str, tuple[str, str]] = {
    "pleg": (
        "PLEG is not healthy",
        "PLEG 不健康:容器运行时(docker)响应不过来,节点被判为不可用;登录节点先 systemctl restart kubelet,"
        "无效再 systemctl restart docker(都不影响运行中的容器);systemd 低于 219-67 的要升级;"
        "仍不行就排空节点后重启 ECS。",
    ),
    "network": (
        "network plugin not ready",
        "节点的容器网络插件(CNI)没有就绪:检查节点上的网络插件 Pod(terway/flannel 等)和 kubelet 日志。",
    ),
    "runtime": (
        "container runtime down",
        "容器运行时异常:登录节点重启 docker(或 containerd)和 kubelet,用 journalctl -xeu docker 查看原因。",
    ),
    "unknown": (
        "kubelet stopped posting status",
        "kubelet 不再向集群上报状态(负载过高、kubelet/docker 卡死、网络不通,或 ECS 停机/欠费):登录节点"
        "重启 kubelet、docker,必要时排空后重启 ECS;平时保持合理水位并部署 npd 等监控。",
    ),
    "other": (
        "",
        "节点不可用:登录节点看 kubelet 日志(journalctl -xeu kubelet),先重启 kubelet,再重启 docker,"
        "必要时排空后重启 ECS。",
    ),
}


def _node_category(status: str, reason: str, message: str) -> str:
    if "PLEG" in message:
        return "pleg"
    if "NetworkPluginNotReady" in message or "network plugin" in message.lower() or "cni" in message.lower():
        return "network"
    if "container runtime" in message.lower():
        return "runtime"
    if status == "Unknown" or reason == "NodeStatusUnknown":
        return "unknown"
    return "other"


def node_not_ready(ctx: Context) -> list[Finding]:
    if "nodes" in ctx.snapshot.unavailable:
        return []  # the service reports what it could not see
    pods_on: dict[str, list[str]] = {}
    for pod in ctx.pods:
        if node_of(pod):
            pods_on.setdefault(node_of(pod), []).append(obj_name(pod))
    relevant = (
        ctx.nodes if len(ctx.nodes) <= FEW_NODES else {n: ctx.nodes[n] for n in pods_on if n in ctx.nodes}
    )
    groups: dict[str, Group] = {}
    reasons: dict[str, str] = {}
    for node_name, node in relevant.items():
        if node_ready(node):
            continue
        ready = next(c for c in items(get(node, "status", "conditions")) if c.get("type") == "Ready")
        status, reason, message = (text(ready.get(k)) for k in ("status", "reason", "message"))
        category = _node_category(status, reason, message)
        group = groups.setdefault(category, Group())
        reasons.setdefault(category, reason)
        group.add(ref("Node", node_name))
        since = ctx.age(ready.get("lastTransitionTime"))
        line = f"Node/{node_name}: Ready={status or '?'} {reason}: {shorten(message)}".rstrip(": ")
        group.lines.append(line + (f" (for {duration(since)})" if since is not None else ""))
        for condition in items(get(node, "status", "conditions")):
            if text(condition.get("type")).endswith("Pressure") and condition.get("status") == "True":
                group.lines.append(f"Node/{node_name}: {condition.get('type')}=True")
        hosted = pods_on.get(node_name, [])
        if hosted:
            group.lines.append(f"Node/{node_name} hosts {plural(len(hosted), 'pod')}: {join_names(hosted)}")
            for pod in ctx.pods:
                if node_of(pod) == node_name:
                    group.add_pod(ctx, pod)
    findings = []
    for category, group in groups.items():
        label, detail = _NODE_TEXT[category]
        nodes = [o.removeprefix("Node/") for o in group.others]
        title = f"{plural(len(nodes), 'node')} NotReady ({label or reasons[category] or 'Ready=False'})"
        title += f": {join_names(nodes)}"
        group.lines = [line for line in group.lines if line]
        findings.append(finding("NodeNotReady", "critical", title, detail, group))
    return findings


# ---------------------------------------------------------------- NoEndpoints


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _scaled_to_zero(ctx: Context, selector: Mapping[str, Any]) -> list[str]:
    found = []
    for kind, workloads in (("Deployment", ctx.deployments), ("StatefulSet", ctx.statefulsets)):
        for workload_name, workload in workloads.items():
            template_labels = mapping(get(workload, "spec", "template", "metadata", "labels"))
            if as_int(get(workload, "spec", "replicas")) == 0 and _selects(selector, template_labels):
                found.append(ref(kind, workload_name))
    return found


def no_endpoints(ctx: Context) -> list[Finding]:
    if "endpoints" in ctx.snapshot.unavailable:
        return []
    endpoints = {obj_name(e): e for e in items(ctx.snapshot.endpoints)}
    groups: dict[str, Group] = {}
    for service in items(ctx.snapshot.services):
        service_name = obj_name(service)
        selector = mapping(get(service, "spec", "selector"))
        if not selector or get(service, "spec", "type") == "ExternalName" or service_name not in endpoints:
            continue
        subsets = items(get(endpoints[service_name], "subsets"))
        if any(items(subset.get("addresses")) for subset in subsets):
            continue
        not_ready = [
            text(get(address, "targetRef", "name")) or text(address.get("ip"))
            for subset in subsets
            for address in items(subset.get("notReadyAddresses"))
        ]
        matching = [
            pod for pod in ctx.pods if not is_terminating(pod) and _selects(selector, obj_labels(pod))
        ]
        shown = ",".join(f"{k}={v}" for k, v in selector.items())
        scaled = _scaled_to_zero(ctx, selector)
        if matching or not_ready:
            category = "not_ready"
            names = not_ready or [obj_name(p) for p in matching]
            line = f"Service/{service_name} (selector {shown}): 0 ready endpoints"
            line += f", not ready: {join_names(names)}" if names else ""
        elif scaled:
            category = "scaled"
            line = f"Service/{service_name}: {', '.join(scaled)} scaled to 0 replicas"
        else:
            category = "no_pods"
            line = f"Service/{service_name} (selector {shown}): no pod matches the selector"
        group = groups.setdefault(category, Group())
        group.add(ref("Service", service_name))
        group.lines.append(line)
        for pod in matching:
            group.add_pod(ctx, pod)
        for workload in scaled:
            group.workloads[workload] = None
    findings = []
    for category, group in groups.items():
        services = [o.removeprefix("Service/") for o in group.others]
        who = f"{plural(len(services), 'service')} ({join_names(services)})"
        if category == "not_ready":
            title, severity = f"{who}: no ready endpoints", "critical"
            detail = (
                "Service 选中的 Pod 都没有就绪(readiness 未通过或容器没起来),没有可用后端,访问会失败:"
                "先解决这些 Pod 的问题(见其他发现)。"
            )
            actions: list[ActionRef] = []
        elif category == "scaled":
            title, severity = f"{who}: no endpoints, workload scaled to 0", "info"
            detail = "工作负载已缩容到 0,Service 没有后端:要恢复服务时用 restore 恢复到缩容前的副本数。"
            actions = [ActionRef("restore", w) for w in group.workloads]
        else:
            title, severity = f"{who}: selector matches no pods", "warning"
            detail = "Service 的 selector 选不到任何 Pod:核对 selector 与 Pod 模板标签是否一致(拼写/大小写)。"
            actions = []
        findings.append(finding("NoEndpoints", severity, title, detail, group, actions))
    return findings


# ---------------------------------------------------------------- release orders


def _versions(order: ReleaseOrder) -> str:
    if order.old_version and order.new_version and order.old_version != order.new_version:
        return f"{order.old_version} → {order.new_version}"
    return order.new_version or order.old_version or f"revision {order.revision}"


def _order_group(ctx: Context, order: ReleaseOrder) -> Group:
    group = Group()
    group.add(order.target)
    group.lines.append(f"{order.target}: batch {order.batch}/{order.batches}, {_versions(order)}")
    group.lines.append(
        f"replicas: desired {order.desired}, updated {order.updated}, ready {order.ready}, "
        f"available {order.available}"
    )
    if order.reason:
        group.lines.append(f"reason: {shorten(order.reason)}")
    since = seconds_between(ctx.now, order.changed_at)
    if since is not None:
        group.lines.append(f"{order.state} for {duration(since)}")
    return group


def _current(ctx: Context, state: str) -> list[ReleaseOrder]:
    return [order for order in ctx.orders if order.current and order.state == state]


def release_paused(ctx: Context) -> list[Finding]:
    findings = []
    for order in _current(ctx, "paused"):
        group = _order_group(ctx, order)
        batch = f"{order.batch}/{order.batches}"
        title = f"Release order paused at batch {batch}: {order.target} {_versions(order)}"
        detail = (
            "发布单已暂停(第一批暂停/每批暂停,或被人手动暂停):确认这一批实例工作正常后恢复(resume)继续发布;"
            "不想继续就关闭发布单,再新建一个。"
        )
        actions = [ActionRef("resume_order", order.target), ActionRef("close_order", order.target)]
        waited = seconds_between(ctx.now, order.changed_at) if order.changed_at else None
        blocking = waited is not None and waited >= ctx.paused_warning_after
        if blocking and waited is not None:
            title += f", waiting {duration(waited)}"
            detail += "暂停太久会挡住下一次发布。"
        severity = "warning" if blocking else "info"
        findings.append(finding("ReleasePaused", severity, title, detail, group, actions))
    return findings


def release_failed(ctx: Context) -> list[Finding]:
    findings = []
    for order in _current(ctx, "failed"):
        group = _order_group(ctx, order)
        reason = order.reason.partition(":")[0].strip()
        batch = f"{order.batch}/{order.batches}"
        title = f"Release order failed at batch {batch}: {order.target} {_versions(order)}"
        title += f" ({reason})" if reason else ""
        detail = (
            "发布单失败(如 ProgressDeadlineExceeded:新版本实例在期限内没有就绪):先看本报告里 Pod 的发现;"
            "回滚到上一版本,或者关闭发布单、修复后再新建发布单;个别实例失败时可以用批量失败重试。"
        )
        actions = [
            ActionRef("rollback_order", order.target),
            ActionRef("close_order", order.target),
            ActionRef("retry_failed", order.target),
        ]
        findings.append(finding("ReleaseFailed", "critical", title, detail, group, actions))
    return findings
