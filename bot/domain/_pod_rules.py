"""Rules about pods as a whole: Unschedulable, VolumeFailed, Evicted, StuckTerminating."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.domain._container_rules import MISSING_KEY, MISSING_OBJECT
from bot.domain._diag_base import (
    Context,
    Group,
    as_int,
    container_specs,
    duration,
    ev_line,
    ev_message,
    ev_reason,
    events_action,
    finding,
    get,
    is_terminating,
    items,
    join_names,
    mapping,
    node_of,
    obj_name,
    on_node,
    plural,
    pod_condition,
    pod_phase,
    seconds_between,
    shorten,
    text,
)
from bot.domain.diagnosis_types import ActionRef, Finding
from bot.domain.snapshot import Obj, event_count, event_last_seen, parse_time, ref

#: pods offered a delete_pod button each, at most
DELETE_ACTIONS = 5
#: how long past its deletion deadline a pod may linger before it counts as stuck
STUCK_AFTER_SECONDS = 300
#: a Pending PVC younger than this is still provisioning, not failing
PVC_PENDING_SECONDS = 300
#: the jushita (聚石塔) prefix of node label keys
JST_PREFIX = "label.jst.com/"

# ---------------------------------------------------------------- Unschedulable

_INSUFFICIENT = re.compile(r"Insufficient ([\w./-]+)")
_SCHEDULING_CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "node_selector",
        re.compile(
            r"didn't match (?:Pod's )?node (?:affinity/)?selector|didn't match Pod's node affinity", re.I
        ),
    ),
    ("taint", re.compile(r"taint", re.I)),
    ("no_nodes", re.compile(r"no nodes available to schedule pods", re.I)),
    ("cordoned", re.compile(r"node\(s\) were unschedulable", re.I)),
    ("affinity", re.compile(r"pod (?:anti-)?affinity|anti-affinity rules|topology spread", re.I)),
    ("pvc_missing", re.compile(r'persistentvolumeclaim "[^"]+" not found', re.I)),
    ("volume_zone", re.compile(r"volume node affinity conflict", re.I)),
    ("pvc", re.compile(r"unbound (?:immediate )?persistentvolumeclaims", re.I)),
    ("pods", re.compile(r"Too many pods", re.I)),
)
_CAUSE_LABELS = {
    "node_selector": "node selector mismatch",
    "taint": "untolerated taints",
    "no_nodes": "no nodes available",
    "cordoned": "nodes cordoned",
    "affinity": "affinity rules",
    "pvc": "unbound PVC",
    "pvc_missing": "PVC not found",
    "volume_zone": "volume node affinity conflict",
    "pods": "too many pods",
    "other": "",
}
_CAUSE_DETAILS = {
    "insufficient": (
        "集群节点可分配的 {resources} 不够满足 Pod 的 requests:加节点或升级 ECS 规格,或调小容器规格后重新发布"
        "(集群组件自身也占一部分资源)。"
    ),
    "node_selector": (
        "没有节点带有 Pod 的 nodeSelector/节点亲和性要求的标签:核对标签 key/value;聚石塔的节点标签 key "
        "带 label.jst.com/ 前缀(界面不显示),YAML 里要写全,如 label.jst.com/pool: shop。"
    ),
    "taint": (
        "节点有 Pod 不能容忍的污点(taint):给 Pod 加对应 tolerations 或去掉节点污点;"
        "not-ready/unreachable 污点说明节点本身异常。"
    ),
    "no_nodes": "集群里没有可调度的节点:向集群添加 ECS 节点,或检查节点是否全部 NotReady/不可调度。",
    "cordoned": "节点被设为不可调度(cordon/排空中):维护完成后恢复可调度,或添加节点。",
    "affinity": "Pod 亲和/反亲和或拓扑分布约束无法满足:放宽规则,或增加节点。",
    "pvc": "Pod 的 PVC 还没有绑定到卷:先让 PVC 绑定(看 PVC 的事件:StorageClass、provisioner)。",
    "pvc_missing": "Pod 引用的 PVC 不存在:创建它,或改正工作负载里的 claimName。",
    "volume_zone": (
        "卷已绑定,但它所在的可用区(云盘的 zone)里没有能放这个 Pod 的节点(volume node affinity conflict):"
        "在云盘所在可用区添加节点,或改用 volumeBindingMode: WaitForFirstConsumer 的 StorageClass 重建 PVC,"
        "让云盘按 Pod 所在节点的可用区创建。"
    ),
    "pods": "节点上的 Pod 数已到上限(max pods):增加节点。",
    "other": "调度器找不到能运行该 Pod 的节点:看调度事件里各节点被排除的原因。",
}


def _scheduling_causes(message: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(causes, insufficient resources) named by a scheduler message."""
    head = message.split("preemption:")[0]
    resources = tuple(dict.fromkeys(found.rstrip(".") for found in _INSUFFICIENT.findall(head)))
    causes = ["insufficient"] if resources else []
    causes += [cause for cause, pattern in _SCHEDULING_CAUSES if pattern.search(head)]
    return tuple(causes) or ("other",), resources


def _claims(pod: Obj) -> list[str]:
    return [
        text(get(volume, "persistentVolumeClaim", "claimName"))
        for volume in items(get(pod, "spec", "volumes"))
        if text(get(volume, "persistentVolumeClaim", "claimName"))
    ]


def _requests(pod: Obj) -> str:
    parts = []
    for spec, _ in container_specs(pod):
        requests = mapping(get(spec, "resources", "requests"))
        shown = " ".join(f"{k}={v}" for k, v in requests.items() if k in ("cpu", "memory"))
        if shown:
            parts.append(f"{text(spec.get('name'))} {shown}")
    return "; ".join(parts)


def _node_selector_hint(pod: Obj) -> list[str]:
    selector = mapping(get(pod, "spec", "nodeSelector"))
    keys = [str(k) for k in selector]
    required = get(pod, "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    for term in items(get(required, "nodeSelectorTerms")):
        keys += [text(e.get("key")) for e in items(term.get("matchExpressions")) if text(e.get("key"))]
    lines = []
    if selector:
        lines.append("nodeSelector: " + ", ".join(f"{k}={v}" for k, v in selector.items()))
    bare = [k for k in dict.fromkeys(keys) if not k.startswith(JST_PREFIX) and not _well_known(k)]
    if bare:
        lines.append(
            f"hint: label key {', '.join(bare)} has no {JST_PREFIX} prefix "
            f"(on 聚石塔 node labels are {JST_PREFIX}<key>)"
        )
    return lines


def _well_known(key: str) -> bool:
    prefix = key.partition("/")[0] if "/" in key else ""
    return prefix.endswith(("kubernetes.io", "k8s.io")) or prefix.startswith("alibabacloud.com")


def _taint_lines(ctx: Context) -> list[str]:
    lines = []
    for node_name, node in list(ctx.nodes.items())[:3]:
        taints = [_taint(t) for t in items(get(node, "spec", "taints"))]
        if taints:
            lines.append(f"Node/{node_name} taints: {', '.join(taints)}")
    return lines


def _taint(taint: Mapping[str, Any]) -> str:
    value = text(taint.get("value"))
    return f"{text(taint.get('key'))}{'=' + value if value else ''}:{text(taint.get('effect'))}"


def _node_summary(ctx: Context) -> list[str]:
    if not ctx.nodes or "nodes" in ctx.snapshot.unavailable:
        return []
    not_ready = sum(1 for node in ctx.nodes.values() if not node_ready(node))
    cordoned = sum(1 for node in ctx.nodes.values() if get(node, "spec", "unschedulable") is True)
    return [f"nodes: {len(ctx.nodes)} total, {not_ready} NotReady, {cordoned} unschedulable"]


def node_ready(node: Obj) -> bool:
    for condition in items(get(node, "status", "conditions")):
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return True  # no status: nothing says it is not ready


def unschedulable(ctx: Context) -> list[Finding]:
    pending_claims = {
        obj_name(pvc) for pvc in items(ctx.snapshot.pvcs) if text(get(pvc, "status", "phase")) == "Pending"
    }
    groups: dict[tuple[str, ...], Group] = {}
    resources_seen: dict[tuple[str, ...], dict[str, None]] = {}
    for pod in ctx.pods:
        if node_of(pod) or is_terminating(pod) or pod_phase(pod) not in ("", "Pending"):
            continue
        pod_name = obj_name(pod)
        condition = pod_condition(pod, "PodScheduled")
        events = ctx.events("Pod", pod_name, ("FailedScheduling",))
        unschedulable_now = condition.get("status") == "False" and condition.get("reason") == "Unschedulable"
        if not events and not unschedulable_now:
            continue
        latest = max(events, key=lambda e: (_when(e), event_count(e))) if events else None
        message = ev_message(latest) if latest else text(condition.get("message"))
        causes, resources = _scheduling_causes(message)
        if causes == ("pvc",) and any(claim in pending_claims for claim in _claims(pod)):
            continue  # VolumeFailed explains it, from the PVC
        if causes == ("pvc_missing",) and _missing_claims(ctx, pod):
            continue  # VolumeFailed names the missing claim
        group = groups.setdefault(causes, Group())
        group.add_pod(ctx, pod)
        resources_seen.setdefault(causes, {}).update(dict.fromkeys(resources))
        if latest is not None:
            group.lines.append(f"Pod/{pod_name}: {ev_line(latest)}")
        else:
            group.lines.append(f"Pod/{pod_name}: Unschedulable: {shorten(message)}")
        if len(group.pods) == 1:
            requests = _requests(pod)
            if requests and "insufficient" in causes:
                group.context.append(f"requests of {pod_name}: {requests}")
            if "node_selector" in causes:
                group.context += _node_selector_hint(pod)
            if "taint" in causes:
                group.context += _taint_lines(ctx)
            if "no_nodes" in causes or "cordoned" in causes:
                group.context += _node_summary(ctx)
    findings = []
    for causes, group in groups.items():
        short = list(resources_seen.get(causes, {}))
        names = [
            f"Insufficient {', '.join(short)}" if c == "insufficient" else _CAUSE_LABELS[c] for c in causes
        ]
        shown = ", ".join(name for name in names if name) or "no node fits"
        title = f"{group.pod_count()} Pending, unschedulable: {shown}"
        detail = " ".join(
            _CAUSE_DETAILS[cause].format(resources="/".join(short) or "cpu/memory") for cause in causes
        )
        findings.append(finding("Unschedulable", "critical", title, detail, group, events_action(group)))
    return findings


def _when(event: Obj) -> float:
    seen = event_last_seen(event)
    return seen.timestamp() if seen is not None else 0.0


# ---------------------------------------------------------------- VolumeFailed

_UNMOUNTED = re.compile(r"unmounted volumes=\[([^\]]*)\]")
_PROVISIONER = re.compile(r'external provisioner "([^"]+)"')
_CONFIG_VOLUME_KEYS = ("configMap", "secret", "projected", "downwardAPI")
_VOLUME_TEXT: dict[str, tuple[str, str]] = {
    "multi_attach": (
        "volume Multi-Attach error (disk attached to another node)",
        "云盘是独占存储,还挂在另一个节点的旧 Pod 上(Multi-Attach):等旧 Pod 退出,或处理卡在 Terminating 的"
        "旧 Pod;用云盘的 Deployment 改用 Recreate 策略或 StatefulSet,多副本共享数据改用 NAS。",
    ),
    "attach": (
        "FailedAttachVolume",
        "卷挂接不到节点:云盘与 ECS 不在同一可用区、云盘不存在或被占用,或 CSI/flexvolume 驱动异常;"
        "看 csi-plugin(或 flexvolume)日志。",
    ),
    "mount_timeout": (
        "volume mount timed out",
        "卷挂载超时:NAS 挂载点/权限组不对,或设置了 fsGroup 让 kubelet 递归修改大量文件属主而超时;"
        "看 csi-plugin/flexvolume 日志。",
    ),
    "mount": (
        "FailedMount",
        "卷挂载失败:检查挂载点地址、NAS 权限组和存储驱动(csi-plugin/flexvolume)日志。",
    ),
    "provisioning_failed": (
        "ProvisioningFailed",
        "动态创建卷失败:检查 StorageClass 参数(可用区、云盘类型、容量下限)和 provisioner 日志"
        "(csi-provisioner / disk-controller)。",
    ),
    "external": (
        "waiting for a volume to be created",
        "PVC 一直在等 provisioner 创建卷:确认集群装了对应的存储控制器(ACK 1.16 前的 Flexvolume 集群要另装 "
        "alicloud-nas-controller),并看它的日志;也可以手动创建 PV。",
    ),
    "no_pv": (
        "no PersistentVolume to bind",
        "没有可绑定的 PersistentVolume,也没有可用的 StorageClass:"
        "手动创建匹配的 PV,或给 PVC 指定 storageClassName。",
    ),
    "lost": ("Lost", "PVC 绑定的 PV 已经不存在(Lost):恢复该 PV,或重建 PVC 并恢复数据。"),
    "storage_class_missing": (
        "StorageClass not found",
        "PVC 指定的 StorageClass 在集群里不存在,卷永远不会被创建:改成已有的 StorageClass"
        "(kubectl get storageclass)后重建 PVC(storageClassName 创建后不能改),或先创建该 StorageClass。",
    ),
    "claim_missing": (
        "PersistentVolumeClaim not found",
        "Pod 引用的 PVC 在命名空间里不存在,调度器不会放置这个 Pod:创建这个 PVC,或改正工作负载里的 "
        "claimName(StatefulSet 的 PVC 由 volumeClaimTemplates 按 <模板名>-<Pod 名> 自动创建,"
        "名字对不上时检查模板名);PVC 绑定后 Pod 会自动调度。",
    ),
    "pending": ("Pending", "PVC 一直 Pending,没有绑定到卷:检查 StorageClass 与 provisioner,或手动创建 PV。"),
}


def _config_volumes(pod: Obj) -> set[str]:
    return {
        text(volume.get("name"))
        for volume in items(get(pod, "spec", "volumes"))
        if any(volume.get(key) is not None for key in _CONFIG_VOLUME_KEYS)
    }


def _volume_category(event: Obj) -> str:
    message = ev_message(event)
    if "Multi-Attach" in message:
        return "multi_attach"
    if ev_reason(event) == "FailedAttachVolume":
        return "attach"
    if "timed out" in message or "deadline exceeded" in message:
        return "mount_timeout"
    return "mount"


def _pod_volume_failures(ctx: Context, groups: dict[str, Group]) -> None:
    for pod in ctx.pods:
        if is_terminating(pod) or pod_phase(pod) not in ("", "Pending"):
            continue
        pod_name = obj_name(pod)
        config_volumes = _config_volumes(pod)
        for event in ctx.events("Pod", pod_name, ("FailedAttachVolume", "FailedMount")):
            message = ev_message(event)
            if MISSING_OBJECT.search(message) or MISSING_KEY.search(message):
                continue  # ConfigMissing
            unmounted = _UNMOUNTED.search(message)
            if unmounted:
                names = set(unmounted.group(1).replace(",", " ").split())
                if names and names <= config_volumes:
                    continue  # only ConfigMap/Secret volumes: ConfigMissing's timeout echo
            group = groups.setdefault(_volume_category(event), Group())
            group.add_pod(ctx, pod)
            group.lines.append(f"Pod/{pod_name}: {ev_line(event)}{on_node(pod)}")
            for claim in _claims(pod):
                group.add(ref("PersistentVolumeClaim", claim))


_MISSING_CLASS = re.compile(r'storageclass(?:\.storage\.k8s\.io)? "([^"]+)" not found', re.I)


def _missing_claims(ctx: Context, pod: Obj) -> list[str]:
    """Claims a not-yet-running pod names that the namespace does not have (only when PVCs could be
    listed: a forbidden list says nothing about what exists)."""
    if "pvcs" in ctx.snapshot.unavailable or node_of(pod) or pod_phase(pod) not in ("", "Pending"):
        return []
    existing = {obj_name(pvc) for pvc in items(ctx.snapshot.pvcs)}
    return [claim for claim in _claims(pod) if claim not in existing]


def _missing_claim_failures(ctx: Context, groups: dict[str, Group]) -> None:
    for pod in ctx.pods:
        if is_terminating(pod):
            continue
        for claim in _missing_claims(ctx, pod):
            group = groups.setdefault(f"claim:{claim}", Group())
            group.add_pod(ctx, pod)
            group.add(ref("PersistentVolumeClaim", claim))
            scheduling = ctx.events("Pod", obj_name(pod), ("FailedScheduling",))
            line = ev_line(scheduling[-1]) if scheduling else f'persistentvolumeclaim "{claim}" not found'
            group.lines.append(f"Pod/{obj_name(pod)}: {line}")


def _pvc_category(phase: str, events: list[Obj]) -> str:
    reasons = {ev_reason(e) for e in events}
    if phase == "Lost":
        return "lost"
    if any(_MISSING_CLASS.search(ev_message(e)) for e in events):
        return "storage_class_missing"
    if "ProvisioningFailed" in reasons:
        return "provisioning_failed"
    if "FailedBinding" in reasons:
        return "no_pv"
    if "ExternalProvisioning" in reasons:
        return "external"
    return "pending"


def _pvc_failures(ctx: Context, groups: dict[str, Group]) -> None:
    users: dict[str, list[Obj]] = {}
    for pod in ctx.pods:
        for claim in _claims(pod):
            users.setdefault(claim, []).append(pod)
    for pvc in items(ctx.snapshot.pvcs):
        pvc_name = obj_name(pvc)
        phase = text(get(pvc, "status", "phase"))
        if phase not in ("Pending", "Lost"):
            continue
        events = ctx.events("PersistentVolumeClaim", pvc_name)
        reasons = {ev_reason(e) for e in events}
        if phase == "Pending":
            if reasons and reasons <= {"WaitForFirstConsumer"}:
                continue  # binds when a pod is scheduled: normal
            # pending since its creation or its first event, whichever the cluster says is older
            ages = [ctx.age(get(pvc, "metadata", "creationTimestamp"))]
            ages += [ctx.age(get(e, "firstTimestamp")) for e in events]
            known = [age for age in ages if age is not None]
            warned = any(text(e.get("type")) == "Warning" for e in events)
            if not warned and known and max(known) < PVC_PENDING_SECONDS:
                continue
        category = _pvc_category(phase, events)
        group = groups.setdefault(f"pvc:{category}", Group())
        group.add(ref("PersistentVolumeClaim", pvc_name))
        storage_class = text(get(pvc, "spec", "storageClassName")) or "(none)"
        size = text(get(pvc, "spec", "resources", "requests", "storage"))
        line = f"PersistentVolumeClaim/{pvc_name}: {phase}, storageClass {storage_class}"
        group.lines.append(line + (f", {size}" if size else ""))
        for event in sorted(events, key=_when, reverse=True)[:2]:
            if ev_reason(event) != "WaitForFirstConsumer":
                group.lines.append(f"PersistentVolumeClaim/{pvc_name}: {ev_line(event)}")
        for pod in users.get(pvc_name, []):
            group.add_pod(ctx, pod)
        provisioner = next((m.group(1) for e in events if (m := _PROVISIONER.search(ev_message(e)))), "")
        if provisioner:
            group.context.append(f"provisioner: {provisioner}")


def volume_failed(ctx: Context) -> list[Finding]:
    groups: dict[str, Group] = {}
    _pod_volume_failures(ctx, groups)
    _pvc_failures(ctx, groups)
    _missing_claim_failures(ctx, groups)
    findings = []
    for key, group in groups.items():
        category = key.removeprefix("pvc:")
        if key.startswith("claim:"):
            label, detail = _VOLUME_TEXT["claim_missing"]
            claim = key.removeprefix("claim:")
            title = f"{group.pod_count()}: PersistentVolumeClaim {claim} not found"
            detail = detail.replace("这个 PVC", f"PVC {claim}", 1)
        elif key.startswith("pvc:"):
            label, detail = _VOLUME_TEXT[category]
            claims = [o.removeprefix("PersistentVolumeClaim/") for o in group.others]
            if category == "storage_class_missing":
                classes = sorted({m.group(1) for line in group.lines if (m := _MISSING_CLASS.search(line))})
                label = f"StorageClass {join_names(classes)} not found" if classes else label
            title = f"{plural(len(claims), 'PVC')} {'Lost' if category == 'lost' else 'Pending'}: {label}"
            title += f" ({join_names(claims)})"
        else:
            label, detail = _VOLUME_TEXT[category]
            title = f"{group.pod_count()}: {label}"
        actions = events_action(group) or [ActionRef("events", next(iter(group.others)))]
        findings.append(finding("VolumeFailed", "critical", title, detail, group, actions))
    return findings


# ---------------------------------------------------------------- Evicted

_LOW_ON = re.compile(r"low on resource: ([\w.-]+)")
_HAD_CONDITION = re.compile(r"had condition: \[(\w+)")
_DISK = frozenset({"ephemeral-storage", "nodefs", "imagefs", "DiskPressure", "storage"})
_MEMORY = frozenset({"memory", "MemoryPressure"})
_EVICT_DETAIL = {
    "disk": (
        "节点磁盘(系统盘/临时存储)不足,kubelet 驱逐了 Pod:清理或扩容节点系统盘,日志不要写在容器可写层"
        "(用日志服务或有限额的 emptyDir),给容器设置 ephemeral-storage requests/limits;"
        "被驱逐的 Pod 会留在 Failed 状态,可以清理掉。"
    ),
    "memory": (
        "节点内存不足,kubelet 驱逐了 Pod(优先驱逐用量超过 requests 的 Pod):给容器设置合理的 memory "
        "requests,或扩容节点;被驱逐的 Pod 可以清理掉。"
    ),
    "other": (
        "Pod 被节点驱逐:查看节点的压力状况(DiskPressure/MemoryPressure/PIDPressure);被驱逐的 Pod 可以清理掉。"
    ),
}


def evicted(ctx: Context) -> list[Finding]:
    groups: dict[str, Group] = {}
    resources: dict[str, dict[str, None]] = {}
    for pod in ctx.pods:
        if pod_phase(pod) != "Failed" or text(get(pod, "status", "reason")) != "Evicted":
            continue
        message = text(get(pod, "status", "message"))
        found = _LOW_ON.search(message) or _HAD_CONDITION.search(message)
        resource = found.group(1).rstrip(".") if found else ""
        kind = "disk" if resource in _DISK else "memory" if resource in _MEMORY else "other"
        group = groups.setdefault(kind, Group())
        group.add_pod(ctx, pod)
        if resource:
            resources.setdefault(kind, {})[resource] = None
        group.lines.append(f"Pod/{obj_name(pod)}: Evicted: {shorten(message or 'no message')}{on_node(pod)}")
        node = ctx.nodes.get(node_of(pod))
        for condition in items(get(node, "status", "conditions")):
            if text(condition.get("type")).endswith("Pressure") and condition.get("status") == "True":
                group.context.append(f"Node/{node_of(pod)}: {condition.get('type')}=True")
    findings = []
    for kind, group in groups.items():
        seen = list(resources.get(kind, {}))
        what = f"node low on {', '.join(seen)}" if seen else "evicted by the node"
        title = f"{plural(len(group.pods), 'pod')} evicted: {what}"
        actions = [ActionRef("delete_pod", ref("Pod", pod)) for pod in list(group.pods)[:DELETE_ACTIONS]]
        findings.append(finding("Evicted", "warning", title, _EVICT_DETAIL[kind], group, actions))
    return findings


# ---------------------------------------------------------------- StuckTerminating


def _grace(pod: Obj) -> int:
    for value in (
        get(pod, "metadata", "deletionGracePeriodSeconds"),
        get(pod, "spec", "terminationGracePeriodSeconds"),
    ):
        seconds = as_int(value)
        if seconds is not None:
            return seconds
    return 30


def stuck_terminating(ctx: Context) -> list[Finding]:
    """Pods still present well past their deletion deadline.

    The API server sets metadata.deletionTimestamp to the time of the delete request plus the grace
    period: it is the deadline. Past it by STUCK_AFTER_SECONDS, the pod is stuck.
    """
    group = Group()
    longest = 0.0
    for pod in ctx.pods:
        overdue = seconds_between(ctx.now, parse_time(get(pod, "metadata", "deletionTimestamp")))
        if overdue is None or overdue <= STUCK_AFTER_SECONDS:
            continue
        grace = _grace(pod)
        terminating_for = overdue + grace
        longest = max(longest, terminating_for)
        group.add_pod(ctx, pod)
        line = f"Pod/{obj_name(pod)}: Terminating for {duration(terminating_for)} (grace {grace}s)"
        node = node_of(pod)
        if node:
            line += f" on node {node}"
            if node in ctx.nodes and not node_ready(ctx.nodes[node]):
                line += " (NotReady)"
        finalizers = [f for f in get(pod, "metadata", "finalizers", default=[]) if isinstance(f, str)]
        if finalizers:
            line += f", finalizers {', '.join(finalizers)}"
        group.lines.append(line)
    if not group.pods:
        return []
    title = f"{plural(len(group.pods), 'pod')} stuck Terminating (longest {duration(longest)})"
    detail = (
        "Pod 超过优雅退出期仍没删掉:常见是所在节点的 kubelet/docker 异常或节点失联(NotReady),也可能是 "
        "finalizer 没被清理;先登录节点重启 kubelet(不影响运行中的容器),确认容器已停止后再强制删除 Pod。"
    )
    force = {"force": "true"}
    actions = [ActionRef("delete_pod", ref("Pod", pod), force) for pod in list(group.pods)[:DELETE_ACTIONS]]
    return [finding("StuckTerminating", "warning", title, detail, group, actions)]
