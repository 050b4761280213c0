"""Rules about containers of running or starting pods.

ImagePullFailed, CrashLoop, OOMKilled, ProbeFailed, ConfigMissing, HookFailed, StaleImage.
A restarting container is explained once: OOMKilled, a liveness kill (ProbeFailed) or a failed
PostStart hook (HookFailed) take it; CrashLoop reports the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from bot.domain._diag_base import (
    ContainerView,
    Context,
    Group,
    about_container,
    as_int,
    container_specs,
    duration,
    ev_container,
    ev_line,
    ev_message,
    events_action,
    finding,
    get,
    is_terminating,
    items,
    join_names,
    logs_action,
    mapping,
    memory_bytes,
    most_common,
    on_node,
    plural,
    pod_condition,
    pod_phase,
    restart_actions,
    rollback_actions,
    shorten,
    text,
    times,
)
from bot.domain.diagnosis_types import Finding
from bot.domain.snapshot import Obj, event_count, ref

#: a terminated container counts as recent (a live problem, not history) for this long
RECENT_SECONDS = 3600
#: restarts that make a container crash-looping even when caught between back-offs
CRASH_RESTARTS = 5

# ---------------------------------------------------------------- restart attribution

_LIVENESS_KILL = re.compile(r"failed (?:liveness|startup) probe|is unhealthy, it will be killed", re.I)
_PROBE_EVENT = re.compile(r"^(Liveness|Readiness|Startup) probe (?:failed|errored)", re.I)


def _probe_killed(ctx: Context, view: ContainerView) -> bool:
    for event in ctx.events("Pod", view.pod_name, ("Killing",)):
        if _LIVENESS_KILL.search(ev_message(event)) and about_container(event, view.name):
            return True
    exit_code = as_int(view.last_terminated().get("exitCode"))
    if view.restarts and exit_code in (137, 143):
        for event in ctx.events("Pod", view.pod_name, ("Unhealthy",)):
            matched = _PROBE_EVENT.match(ev_message(event))
            if matched and matched.group(1).lower() != "readiness" and about_container(event, view.name):
                return True
    return False


def _poststart_failed(ctx: Context, view: ContainerView) -> bool:
    events = ctx.events("Pod", view.pod_name, ("FailedPostStartHook",))
    return any(about_container(event, view.name) for event in events)


def restart_cause(ctx: Context, view: ContainerView) -> str | None:
    """Why a container last terminated, when another rule explains it: oom, probe, hook."""
    terminated = view.last_terminated()
    if not terminated:
        return None
    if terminated.get("reason") == "OOMKilled":
        return "oom"
    if _probe_killed(ctx, view):
        return "probe"
    if _poststart_failed(ctx, view):
        return "hook"
    if as_int(terminated.get("exitCode")) == 137 and _recent(ctx, view):
        return "oom"  # SIGKILL without a probe or hook behind it: the kernel's OOM killer, in practice
    return None


def _recent(ctx: Context, view: ContainerView) -> bool:
    """Terminated within the last hour, or currently waiting/terminated (or unknown: partial status)."""
    state = mapping(get(view.status, "state"))
    if "waiting" in state or "terminated" in state:
        return True
    age = ctx.age(view.last_terminated().get("finishedAt"))
    return age is None or age <= RECENT_SECONDS


def _owner_key(ctx: Context, view: ContainerView) -> str:
    return ctx.workload_of(view.pod) or ref("Pod", view.pod_name)


def _of(owner: str) -> str:
    return "" if owner.startswith("Pod/") else f" of {owner}"


# ---------------------------------------------------------------- ImagePullFailed

PULL_REASONS = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"}
)
_PULL_EVENT = re.compile(r"Failed to pull image|ErrImagePull|pull", re.I)
_INVALID = re.compile(r"invalid reference format|couldn't parse image reference|InvalidImageName", re.I)
_AUTH = re.compile(
    r"pull access denied|unauthori[sz]ed|authentication required|authorization failed|access denied|"
    r"denied:|no basic auth credentials|\b401\b|\b403\b|forbidden",
    re.I,
)
_NOT_FOUND = re.compile(r"manifest unknown|not found|does not exist|no such image|name unknown", re.I)
_NETWORK = re.compile(
    r"i/o timeout|dial tcp|connection refused|no such host|tls handshake timeout|"
    r"context deadline exceeded|network is unreachable|server misbehaving",
    re.I,
)
#: cause -> (title suffix, detail); {image} is filled in
_PULL_CAUSES: dict[str, tuple[str, str]] = {
    "not_found": (
        "tag not found",
        "镜像 {image} 的 tag/manifest 在仓库中不存在(manifest unknown / not found):"
        "核对仓库地址、镜像名和 tag 拼写,确认 CI 已推送该 tag;改正后重新发布,或回滚。",
    ),
    "auth": (
        "registry auth",
        "仓库拒绝拉取 {image}(pull access denied / unauthorized):仓库不存在或需要认证;"
        "核对仓库地址,私有仓库在 Pod 的 imagePullSecrets 里配置有效凭据。",
    ),
    "network": (
        "registry unreachable",
        "节点连不上镜像仓库({image}:超时 / DNS / 拒绝连接):"
        "检查节点出网(NAT 网关 SNAT、EIP)与仓库地址,VPC 内优先用仓库内网地址。",
    ),
    "invalid": (
        "invalid image name",
        "镜像名 {image} 格式非法(InvalidImageName):改正 image 字段(仓库名须小写,tag 格式正确)。",
    ),
    "unknown": (
        "",
        "镜像 {image} 拉取失败:镜像 tag 不存在或仓库需要认证;核对 image 与 imagePullSecrets,"
        "看 Pod 事件里的完整报错。",
    ),
}


_PULL_NOISE = re.compile(
    r'rpc error: code = \w+ desc = |failed to pull and unpack image "[^"]*": |'
    r'failed to resolve reference "[^"]*": |Error response from daemon: '
)


def pull_message(message: str) -> str:
    """A pull error without the runtime's repeated wrapping, so the cause survives shortening."""
    return shorten(_PULL_NOISE.sub("", message))


def _pull_cause(reason: str, messages: list[str]) -> str:
    joined = " | ".join(messages)
    if reason == "InvalidImageName" or _INVALID.search(joined):
        return "invalid"
    if _AUTH.search(joined):
        return "auth"
    if _NOT_FOUND.search(joined):
        return "not_found"
    if _NETWORK.search(joined):
        return "network"
    return "unknown"


def image_pull_failed(ctx: Context) -> list[Finding]:
    groups: dict[str, Group] = {}
    causes: dict[str, Counter[str]] = {}
    for view in ctx.live_views:
        reason = text(get(view.status, "state", "waiting", "reason"))
        if reason not in PULL_REASONS:
            continue
        image = view.image
        group = groups.setdefault(image, Group())
        group.add_pod(ctx, view.pod, view.name)
        group.reasons[reason] += 1
        waiting_message = text(get(view.status, "state", "waiting", "message"))
        events = [
            event
            for event in ctx.events("Pod", view.pod_name, ("Failed", "ErrImagePull", "InspectFailed"))
            if about_container(event, view.name)
            and (event.get("reason") == "InspectFailed" or _PULL_EVENT.search(ev_message(event)))
        ]
        events.sort(key=lambda e: (ev_message(e).startswith("Failed to pull image"), event_count(e)))
        messages = [waiting_message, *(ev_message(e) for e in events)]
        cause = _pull_cause(reason, messages)
        if cause != "unknown":
            causes.setdefault(image, Counter())[cause] += 1
        if events:
            body = f"{pull_message(ev_message(events[-1]))}{times(event_count(events[-1]))}"
        elif waiting_message:
            body = pull_message(waiting_message)
        else:
            body = f"image {image}"
        group.lines.append(f"Pod/{view.pod_name} {view.label}: {reason}: {body}{on_node(view.pod)}")
    findings = []
    for image, group in groups.items():
        cause = most_common(causes.get(image, Counter()), "unknown")
        label, detail = _PULL_CAUSES[cause]
        suffix = f" ({label})" if label else ""
        title = f"{group.pod_count()}: {most_common(group.reasons)} on {image}{suffix}"
        actions = [*events_action(group), *rollback_actions(ctx, group)]
        findings.append(
            finding("ImagePullFailed", "critical", title, detail.format(image=image), group, actions)
        )
    return findings


# ---------------------------------------------------------------- CrashLoop

_EXIT_HINTS = {
    0: "exit 0:主进程正常结束了,容器主进程需要常驻前台。",
    1: "exit 1:应用报错退出,看上一次容器日志里的异常。",
    2: "exit 2:启动命令/参数用法错误。",
    126: "exit 126:启动命令没有执行权限。",
    127: "exit 127:启动命令或入口脚本不存在,核对 command/args 与镜像。",
    134: "exit 134:进程 abort(SIGABRT)。",
    139: "exit 139:段错误(SIGSEGV)。",
    143: "exit 143:进程收到 SIGTERM 后退出。",
}


def _exit_codes(codes: Counter[str]) -> str:
    if not codes:
        return ""
    shown = ", ".join(code for code, _ in codes.most_common(3))
    return f", exit code {shown}" if len(codes) == 1 else f", exit codes {shown}"


#: the runtime could not start the process at all: not the application crashing
_START_FAILURES = frozenset({"RunContainerError", "StartError", "ContainerCannotRun"})


def _cannot_start(waiting: str, terminated: Mapping[str, Any]) -> bool:
    return waiting in _START_FAILURES or text(terminated.get("reason")) in _START_FAILURES


def _labels(containers: Mapping[str, None]) -> str:
    names = list(containers)
    return f"container {names[0]}" if len(names) == 1 else f"containers {', '.join(names)}"


def crash_loop(ctx: Context) -> list[Finding]:
    """One finding per workload and way of failing, whichever of its containers fail that way."""
    groups: dict[tuple[str, bool], Group] = {}
    exit_codes: dict[tuple[str, bool], Counter[str]] = {}
    containers: dict[tuple[str, bool], dict[str, None]] = {}
    for view in ctx.live_views:
        waiting = text(get(view.status, "state", "waiting", "reason"))
        terminated = view.last_terminated()
        looping = waiting in ("CrashLoopBackOff", "RunContainerError") or (
            view.restarts >= CRASH_RESTARTS and bool(terminated) and _recent(ctx, view)
        )
        if not looping or restart_cause(ctx, view) is not None:
            continue
        key = (_owner_key(ctx, view), _cannot_start(waiting, terminated))
        group = groups.setdefault(key, Group())
        group.add_pod(ctx, view.pod, view.name)
        containers.setdefault(key, {})[view.label.removeprefix("container ")] = None
        code = as_int(terminated.get("exitCode"))
        if code is not None:
            exit_codes.setdefault(key, Counter())[str(code)] += 1
        last = (
            f"last exit {code} ({text(terminated.get('reason')) or 'Error'})"
            if code is not None
            else "last exit unknown"
        )
        backoff = sum(
            event_count(e)
            for e in ctx.events("Pod", view.pod_name, ("BackOff",))
            if about_container(e, view.name) and "restarting" in ev_message(e)
        )
        line = f"Pod/{view.pod_name} {view.label}: {waiting or 'restarting'}, {last}"
        line += f", restarts {view.restarts}"
        line += f", back-off{times(backoff)}" if backoff > 1 else ""
        message = text(terminated.get("message")) or text(get(view.status, "state", "waiting", "message"))
        line += f": {shorten(message, 120)}" if message else ""
        group.lines.append(line + on_node(view.pod))
    findings = []
    for key, group in groups.items():
        owner, cannot_start = key
        codes = exit_codes.get(key, Counter())
        label = _labels(containers[key])
        if cannot_start:
            title = f"{group.pod_count()}: {label} cannot start (RunContainerError){_of(owner)}"
            title += _exit_codes(codes)
            detail = (
                "容器进程根本没能启动(RunContainerError/StartError),不是应用自己崩溃:常见是启动命令或入口脚本"
                "在镜像里不存在、没有执行权限、镜像与节点 CPU 架构不符,或挂载路径冲突;看证据里的报错原文,"
                "改正 command/args 或镜像后重新发布。"
            )
        else:
            title = f"{group.pod_count()}: CrashLoopBackOff in {label}{_of(owner)}{_exit_codes(codes)}"
            detail = (
                "容器启动后反复退出,kubelet 退避重启(CrashLoopBackOff):看上一次容器的日志(logs --previous)"
                "定位启动错误,常见是配置/环境变量缺失、依赖连不上、启动命令不对。"
            )
            top = most_common(codes)
            detail += (_EXIT_HINTS.get(int(top)) if top else None) or ""
        actions = [*logs_action(group, previous=True), *restart_actions(ctx, group), *events_action(group)]
        findings.append(finding("CrashLoop", "critical", title, detail, group, actions))
    return findings


# ---------------------------------------------------------------- OOMKilled

_XMX = re.compile(r"-Xmx(\d+(?:\.\d+)?)([kKmMgGtT]?)\b")
_RAM_PERCENTAGE = re.compile(r"-XX:(?:MaxRAMPercentage|MaxRAMFraction)=([\d.]+)")
_HEAP_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def java_heap(spec: Mapping[str, Any]) -> tuple[str, str, float | None] | None:
    """(flag, where, bytes) of the JVM max heap set in the container's env, command or args."""
    sources: list[tuple[str, str]] = [
        (text(env.get("name")), text(env.get("value"))) for env in items(spec.get("env"))
    ]
    for key in ("command", "args"):
        value = spec.get(key)
        if isinstance(value, list):
            sources.append((key, " ".join(str(part) for part in value)))
    for where, value in sources:
        found = _XMX.search(value)
        if found:
            size = float(found.group(1)) * _HEAP_UNITS[found.group(2).lower()]
            return found.group(0), where, size
    for where, value in sources:
        found = _RAM_PERCENTAGE.search(value)
        if found:
            return found.group(0), where, None
    return None


def oom_killed(ctx: Context) -> list[Finding]:
    groups: dict[tuple[str, str], Group] = {}
    limits: dict[tuple[str, str], tuple[str, float | None, tuple[str, str, float | None] | None]] = {}
    for view in ctx.live_views:
        if restart_cause(ctx, view) != "oom":
            continue
        key = (_owner_key(ctx, view), view.label)
        group = groups.setdefault(key, Group())
        group.add_pod(ctx, view.pod, view.name)
        group.critical = group.critical or _recent(ctx, view)
        terminated = view.last_terminated()
        reason = text(terminated.get("reason")) or "killed"
        code = as_int(terminated.get("exitCode"))
        when = ctx.age(terminated.get("finishedAt"))
        line = f"Pod/{view.pod_name} {view.label}: {reason}"
        line += f" exit {code}" if code is not None else ""
        line += f", restarts {view.restarts}"
        line += f", {duration(when)} ago" if when is not None else ""
        group.lines.append(line + on_node(view.pod))
        limit = text(get(view.spec, "resources", "limits", "memory"))
        request = text(get(view.spec, "resources", "requests", "memory"))
        heap = java_heap(view.spec)
        if key not in limits:
            limits[key] = (limit, memory_bytes(limit) if limit else None, heap)
        if limit:
            group.context.append(f"memory limit {limit}" + (f", request {request}" if request else ""))
        else:
            group.context.append("no memory limit set" + (f" (request {request})" if request else ""))
        if heap:
            group.context.append(f"JVM heap {heap[0]} (in {heap[1]})")
    findings = []
    for key, group in groups.items():
        owner, label = key
        limit, limit_bytes, heap = limits[key]
        title = f"{group.pod_count()}: {label}{_of(owner)} OOMKilled (exit 137)"
        title += f", memory limit {limit}" if limit else ", no memory limit"
        if limit:
            detail = f"容器内存超过 limits.memory({limit})被内核 OOM kill(exit 137)"
            if heap and heap[2] is not None and limit_bytes and heap[2] >= 0.8 * limit_bytes:
                detail += f",而 JVM 堆 {heap[0]} 已接近或超过这个上限"
            detail += (
                ":调大容器内存规格,或调小 JVM 堆(-Xmx);容器内存要比 JVM 堆大出堆外内存、元空间和"
                "线程栈的余量(聚石塔建议 JVM 堆 ≥ 2G、容器规格略大于堆)。"
            )
        else:
            detail = (
                "容器没有内存上限,在节点内存不足时被 OOM killer 杀掉(exit 137):"
                "给容器设置 requests/limits.memory,Java 应用让 -Xmx 小于容器内存并留出堆外余量。"
            )
        actions = [*logs_action(group, previous=True), *events_action(group)]
        severity = "critical" if group.critical else "warning"
        findings.append(finding("OOMKilled", severity, title, detail, group, actions))
    return findings


# ---------------------------------------------------------------- ProbeFailed

#: a running container not ready for this long counts as failing readiness even without events
NOT_READY_SECONDS = 600

_PROBE_DETAIL = {
    "liveness": (
        "存活探针(liveness)连续失败,kubelet 杀掉并重启容器:核对探针路径/端口与应用一致;应用启动慢就加大 "
        "initialDelaySeconds 或加 startupProbe、放宽 failureThreshold/timeoutSeconds;也可能应用确实无响应"
        "(依赖、数据库配置),先看日志。"
    ),
    "readiness": (
        "就绪探针(readiness)不通过,Pod 不会加入 Service 后端,滚动发布会一直等它就绪:核对探针路径/端口,"
        "检查应用依赖是否可用;启动慢时调大 initialDelaySeconds。"
    ),
    "startup": (
        "启动探针(startup)在允许时间内没通过,容器被重启:让 failureThreshold × periodSeconds 覆盖应用"
        "启动时间,或排查启动卡住的原因。"
    ),
}


def describe_probe(probe: Mapping[str, Any]) -> str:
    parts = []
    http = mapping(probe.get("httpGet"))
    if http:
        parts.append(f"httpGet :{http.get('port', '?')}{text(http.get('path')) or '/'}")
    elif probe.get("tcpSocket") is not None:
        parts.append(f"tcpSocket :{get(probe, 'tcpSocket', 'port', default='?')}")
    elif probe.get("exec") is not None:
        command = get(probe, "exec", "command", default=[])
        parts.append("exec " + " ".join(str(p) for p in command) if isinstance(command, list) else "exec")
    elif probe.get("grpc") is not None:
        parts.append(f"grpc :{get(probe, 'grpc', 'port', default='?')}")
    for key in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"):
        value = as_int(probe.get(key))
        if value is not None:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def _container_ready(pod: Obj, container: str) -> bool | None:
    for status in items(get(pod, "status", "containerStatuses")):
        if status.get("name") == container:
            ready = status.get("ready")
            return ready if isinstance(ready, bool) else None
    ready_condition = text(pod_condition(pod, "Ready").get("status"))
    return None if not ready_condition else ready_condition == "True"


def probe_failed(ctx: Context) -> list[Finding]:
    groups: dict[tuple[str, str], Group] = {}
    for pod in ctx.pods:
        if is_terminating(pod) or pod_phase(pod) in ("Succeeded", "Failed"):
            continue
        pod_name = str(get(pod, "metadata", "name"))
        specs = {text(spec.get("name")): spec for spec, _ in container_specs(pod)}
        default_container = next(iter(specs), "")
        restarts = {text(s.get("name")): as_int(s.get("restartCount")) or 0 for s in _statuses(pod)}
        waiting = {text(s.get("name")) for s in _statuses(pod) if get(s, "state", "waiting") is not None}
        failures: dict[tuple[str, str], list[Obj]] = {}
        for event in ctx.events("Pod", pod_name, ("Unhealthy",)):
            matched = _PROBE_EVENT.match(ev_message(event))
            if matched:
                container = ev_container(event) or default_container
                failures.setdefault((container, matched.group(1).lower()), []).append(event)
        kills: dict[str, list[Obj]] = {}
        for event in ctx.events("Pod", pod_name, ("Killing",)):
            if _LIVENESS_KILL.search(ev_message(event)):
                kills.setdefault(ev_container(event) or default_container, []).append(event)
        for container in kills:
            if not any(c == container and k != "readiness" for c, k in failures):
                failures[(container, "liveness")] = []
        # readiness never reported but the container has not been ready for a long time
        for status in _statuses(pod):
            container = text(status.get("name"))
            running_for = ctx.age(get(status, "state", "running", "startedAt"))
            if (
                status.get("ready") is False
                and mapping(specs.get(container)).get("readinessProbe") is not None
                and running_for is not None
                and running_for > NOT_READY_SECONDS
                and (container, "readiness") not in failures
            ):
                failures[(container, "readiness")] = []
        for (container, kind), events in failures.items():
            killed = kills.get(container, []) if kind != "readiness" else []
            ready = _container_ready(pod, container)
            if kind == "readiness":
                total = sum(event_count(e) for e in events)
                if ready is True or (ready is None and total < 3) or container in waiting:
                    continue  # ready now, a blip, or not running at all (another rule says why)
            elif not killed and not restarts.get(container):
                continue
            key = (ctx.workload_of(pod) or ref("Pod", pod_name), container)
            group = groups.setdefault(key, Group())
            group.reasons[kind] += 1
            group.add_pod(ctx, pod, container)
            group.critical = group.critical or bool(killed) or bool(restarts.get(container))
            prefix = f"Pod/{pod_name} container {container}"
            if events:
                worst = max(events, key=event_count)
                group.lines.append(f"{prefix}: {ev_line(worst)}{on_node(pod)}")
            elif kind == "readiness":
                running_for = next(
                    (
                        ctx.age(get(s, "state", "running", "startedAt"))
                        for s in _statuses(pod)
                        if s.get("name") == container
                    ),
                    None,
                )
                since = f" for {duration(running_for)}" if running_for is not None else ""
                group.lines.append(f"{prefix}: running but not ready{since}{on_node(pod)}")
            for event in killed:
                group.lines.append(f"{prefix}: {ev_line(event)}, restarts {restarts.get(container, 0)}")
            probe = mapping(mapping(specs.get(container)).get(f"{kind}Probe"))
            if probe:
                group.context.append(f"{kind}Probe of {container}: {describe_probe(probe)}")
    findings = []
    for (owner, container), group in groups.items():
        kinds = [kind for kind in ("liveness", "startup", "readiness") if kind in group.reasons]
        primary = kinds[0]
        restarting = primary != "readiness" and group.critical
        probes = f"{' and '.join(kinds)} {'probe' if len(kinds) == 1 else 'probes'}"
        restarted = " (container restarted)" if restarting else ""
        title = f"{group.pod_count()}: {probes} failing on container {container}{_of(owner)}{restarted}"
        detail = _PROBE_DETAIL[primary]
        if primary != "readiness" and "readiness" in kinds:
            detail += "就绪探针也在失败,Pod 暂不接收流量。"
        actions = [*logs_action(group, previous=restarting), *events_action(group)]
        severity = "critical" if restarting else "warning"
        findings.append(finding("ProbeFailed", severity, title, detail, group, actions))
    return findings


def _statuses(pod: Obj) -> list[Mapping[str, Any]]:
    return items(get(pod, "status", "containerStatuses"))


# ---------------------------------------------------------------- ConfigMissing

MISSING_OBJECT = re.compile(r'\b(configmaps?|secrets?) "([^"]+)" not found', re.I)
MISSING_KEY = re.compile(r"couldn't find key (\S+) in (ConfigMap|Secret) (?:[^/\s]+/)?([\w.-]+)")
_CONFIG_WAITING = frozenset({"CreateContainerConfigError", "RunContainerError", "CreateContainerError"})


def missing_config(message: str) -> list[tuple[str, str, str]]:
    """(Kind, name, key) of every ConfigMap/Secret (or key) a message says is missing."""
    found = [
        ("ConfigMap" if kind.lower().startswith("configmap") else "Secret", obj, "")
        for kind, obj in MISSING_OBJECT.findall(message)
    ]
    found += [(kind, obj, key) for key, kind, obj in MISSING_KEY.findall(message)]
    return found


def config_missing(ctx: Context) -> list[Finding]:
    groups: dict[tuple[str, str, str], Group] = {}
    for pod in ctx.pods:
        if is_terminating(pod) or pod_phase(pod) in ("Succeeded", "Failed"):
            continue
        pod_name = str(get(pod, "metadata", "name"))
        # per missing object: the line for this pod and its container
        hits: dict[tuple[str, str, str], tuple[str, str]] = {}
        for view in ctx.views_of(pod):
            reason = text(get(view.status, "state", "waiting", "reason"))
            message = text(get(view.status, "state", "waiting", "message"))
            if reason in _CONFIG_WAITING:
                for key in missing_config(message):
                    repeats = sum(
                        event_count(e)
                        for e in ctx.events("Pod", pod_name, ("Failed",))
                        if about_container(e, view.name) and key in missing_config(ev_message(e))
                    )
                    line = f"Pod/{pod_name} {view.label}: {reason}: {shorten(message)}{times(repeats)}"
                    hits.setdefault(key, (line, view.name))
        if not all(status.get("ready") is True for status in _statuses(pod)) or not _statuses(pod):
            for event in ctx.events("Pod", pod_name, ("FailedMount", "Failed")):
                for key in missing_config(ev_message(event)):
                    hits.setdefault(key, (f"Pod/{pod_name}: {ev_line(event)}", ev_container(event) or ""))
        for key, (line, container) in hits.items():
            group = groups.setdefault(key, Group())
            group.add_pod(ctx, pod, container)
            group.lines.append(line + on_node(pod))
    findings = []
    namespace = ctx.snapshot.namespace
    for (kind, obj, missing_key), group in groups.items():
        group.add(ref(kind, obj))
        if missing_key:
            title = f"{group.pod_count()}: key {missing_key} missing in {kind} {obj}"
            detail = (
                f"{kind} {obj} 里没有键 {missing_key}:补上这个键,或改正 configMapKeyRef/secretKeyRef 的 key"
                "(可缺省的用 optional: true);补好后 kubelet 会自动重试。"
            )
        else:
            title = f"{group.pod_count()}: {kind} {obj} not found"
            create = "kubectl create configmap" if kind == "ConfigMap" else "kubectl create secret generic"
            detail = (
                f"Pod 引用的 {kind} {obj} 在命名空间 {namespace} 里不存在:先创建它({create} {obj} -n "
                f"{namespace} ...),或改正工作负载里的引用名;创建后 kubelet 会自动重试启动,不必重新发布。"
            )
        findings.append(finding("ConfigMissing", "critical", title, detail, group, events_action(group)))
    return findings


# ---------------------------------------------------------------- HookFailed

_HOOK_EXIT = re.compile(r"exited with (\d+)")
_HOOK_CONTAINER = re.compile(r'for Container "([^"]+)"')
_HOOK_HINTS = {126: "(exit 126:脚本没有执行权限)", 127: "(exit 127:命令或脚本不存在)"}


def hook_failed(ctx: Context) -> list[Finding]:
    groups: dict[tuple[str, str, str], Group] = {}
    exit_codes: dict[tuple[str, str, str], Counter[int]] = {}
    for pod in ctx.pods:
        pod_name = str(get(pod, "metadata", "name"))
        for event in ctx.events("Pod", pod_name, ("FailedPostStartHook", "FailedPreStopHook")):
            hook = "PostStart" if "PostStart" in text(event.get("reason")) else "PreStop"
            message = ev_message(event)
            named = _HOOK_CONTAINER.search(message)
            container = ev_container(event) or (named.group(1) if named else "")
            key = (hook, ctx.workload_of(pod) or ref("Pod", pod_name), container)
            group = groups.setdefault(key, Group())
            group.add_pod(ctx, pod, container)
            code = _HOOK_EXIT.search(message)
            if code:
                exit_codes.setdefault(key, Counter())[int(code.group(1))] += 1
            group.lines.append(f"Pod/{pod_name} container {container or '?'}: {ev_line(event)}{on_node(pod)}")
    findings = []
    for key, group in groups.items():
        hook, owner, container = key
        codes = exit_codes.get(key, Counter())
        top = codes.most_common(1)[0][0] if codes else None
        exit_text = f" (exit {top})" if top is not None else ""
        title = f"{group.pod_count()}: {hook} hook failed in container {container or '?'}"
        title += f"{_of(owner)}{exit_text}"
        hint = _HOOK_HINTS.get(top, "") if top is not None else ""
        if hook == "PostStart":
            detail = (
                f"PostStart 钩子执行失败{hint},kubelet 会杀掉容器并重启:检查钩子命令/脚本和 HTTP 地址;"
                "PostStart 在应用启动前就执行,不能假设应用已就绪,且要尽快成功返回。"
            )
            actions = [*events_action(group), *logs_action(group, previous=True)]
            severity = "critical"
        else:
            detail = (
                f"PreStop 钩子执行失败{hint},容器没做完优雅下线就被终止(可能丢请求):检查钩子命令,"
                "确保它在 terminationGracePeriodSeconds 内成功结束。"
            )
            actions = events_action(group)
            severity = "warning"
        findings.append(finding("HookFailed", severity, title, detail, group, actions))
    return findings


# ---------------------------------------------------------------- StaleImage

_DIGEST = re.compile(r"sha256:[0-9a-f]{12,64}")


def stale_image(ctx: Context) -> list[Finding]:
    by_image: dict[str, dict[str, list[ContainerView]]] = {}
    for view in ctx.live_views:
        image = view.image
        if image == "?" or "@sha256:" in image:
            continue
        found = _DIGEST.search(text(view.status.get("imageID")))
        if found:
            by_image.setdefault(image, {}).setdefault(found.group(0), []).append(view)
    findings = []
    for image, digests in by_image.items():
        if len(digests) < 2:
            continue
        group = Group()
        for digest, views in sorted(digests.items(), key=lambda kv: -len(kv[1])):
            pods = list(dict.fromkeys(v.pod_name for v in views))
            nodes = list(dict.fromkeys(text(get(v.pod, "spec", "nodeName")) or "?" for v in views))
            for view in views:
                group.add_pod(ctx, view.pod, view.name)
            group.lines.append(
                f"{digest[:19]}…: {plural(len(pods), 'pod')} {join_names(pods)} on node {join_names(nodes)}"
            )
        first = next(iter(digests.values()))[0]
        policy = text(first.spec.get("imagePullPolicy"))
        if policy:
            group.context.append(f"imagePullPolicy: {policy}")
        title = f"Image {image} runs as {len(digests)} different digests on {group.pod_count()}"
        detail = (
            "同一个镜像 tag 在不同 Pod 上是不同的镜像内容:tag 被重新推送过,节点按 IfNotPresent 沿用了旧缓存;"
            "发布请用不可变的唯一 tag(如 commit id)或 digest,或设置 imagePullPolicy: Always。"
        )
        findings.append(finding("StaleImage", "warning", title, detail, group))
    return findings
