"""Shared machinery of the diagnosis rules: indexes over one snapshot, grouping and evidence lines.

Everything here tolerates partial or odd objects: a status may be missing, a list may be null,
a count may be absent. Helpers return empty values instead of raising.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from bot.domain.diagnosis_types import PAUSED_WARNING_AFTER, ActionRef, Finding, severity_rank
from bot.domain.releases import ReleaseOrder
from bot.domain.snapshot import Obj, Snapshot, event_count, parse_time, ref

#: evidence lines about individual objects before "… and N more"
EVIDENCE_LIMIT = 5
#: release-order states in which the order is still open (an action on it makes sense)
OPEN_ORDER_STATES = frozenset({"deploying", "paused", "failed"})
#: workload kinds the `restart` action applies to
RESTARTABLE_KINDS = ("Deployment", "StatefulSet")

_FIELD_PATH_CONTAINER = re.compile(r"spec\.(?:initContainers|containers|ephemeralContainers)\{([^}]*)\}")


# ---------------------------------------------------------------- tolerant accessors


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # the exact-type test skips the slow ABC check


def get(obj: Any, *path: str, default: Any = None) -> Any:
    """obj["a"]["b"]... or `default` when a step is missing or null (snapshot.get, faster on dicts)."""
    current = obj
    for step in path:  # the hottest loop of a diagnosis: the mapping test is inlined
        if type(current) is not dict and not isinstance(current, Mapping):
            return default
        current = current.get(step)
        if current is None:
            return default
    return current


def mapping(value: Any) -> Mapping[str, Any]:
    return value if _is_mapping(value) else {}


def items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list field; [] when the field is missing, null or not a list."""
    if type(value) is not list and (not isinstance(value, Sequence) or isinstance(value, str | bytes)):
        return []
    return [item for item in value if _is_mapping(item)]


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def obj_name(obj: Any) -> str:
    return text(get(obj, "metadata", "name"))


def obj_labels(obj: Any) -> Mapping[str, Any]:
    return mapping(get(mapping(obj), "metadata", "labels"))


def controller_of(obj: Obj) -> tuple[str, str] | None:
    """(kind, name) of the controlling owner reference, if any."""
    for owner_ref in items(get(obj, "metadata", "ownerReferences")):
        kind, owner_name = text(owner_ref.get("kind")), text(owner_ref.get("name"))
        if kind and owner_name and owner_ref.get("controller", True) is not False:
            return kind, owner_name
    return None


def seconds_between(later: datetime | None, earlier: datetime | None) -> float | None:
    """later - earlier in seconds; naive times are taken as UTC so mixed inputs never raise."""
    if later is None or earlier is None:
        return None
    if later.tzinfo is None:
        later = later.replace(tzinfo=UTC)
    if earlier.tzinfo is None:
        earlier = earlier.replace(tzinfo=UTC)
    return (later - earlier).total_seconds()


# ---------------------------------------------------------------- wording


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def shorten(message: str, limit: int = 220) -> str:
    """One line; long messages keep their head and their tail (where the cause usually is)."""
    flat = " ".join(message.split())
    if len(flat) <= limit:
        return flat
    half = (limit - 3) // 2
    return f"{flat[:half]} … {flat[-half:]}"


def duration(seconds: float) -> str:
    """2d3h, 2h13m, 45m, 30s."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def times(count: int) -> str:
    return f" ×{count}" if count > 1 else ""


def cap(lines: Sequence[str], limit: int = EVIDENCE_LIMIT) -> list[str]:
    unique = list(dict.fromkeys(line for line in lines if line))
    if len(unique) <= limit:
        return unique
    return [*unique[:limit], f"… and {len(unique) - limit} more"]


def join_names(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} (+{len(names) - limit})"


# ---------------------------------------------------------------- events


def ev_reason(event: Obj) -> str:
    return text(get(event, "reason"))


def ev_message(event: Obj) -> str:
    return text(get(event, "message"))


def ev_container(event: Obj) -> str | None:
    """Container an event is about, from involvedObject.fieldPath (spec.containers{web})."""
    found = _FIELD_PATH_CONTAINER.search(text(get(event, "involvedObject", "fieldPath")))
    return found.group(1) if found else None


def ev_line(event: Obj) -> str:
    """`Reason: message ×count`."""
    return f"{ev_reason(event)}: {shorten(ev_message(event))}{times(event_count(event))}"


def about_container(event: Obj, container: str) -> bool:
    found = ev_container(event)
    return found is None or found == container


# ---------------------------------------------------------------- pods and containers


@dataclass(frozen=True)
class ContainerView:
    """One container of one pod: its status and its spec side by side."""

    pod: Obj
    pod_name: str
    name: str
    status: Mapping[str, Any]
    spec: Mapping[str, Any]
    init: bool

    @property
    def label(self) -> str:
        return f"init container {self.name}" if self.init else f"container {self.name}"

    @property
    def image(self) -> str:
        return text(self.spec.get("image")) or text(self.status.get("image")) or "?"

    @property
    def restarts(self) -> int:
        return as_int(self.status.get("restartCount")) or 0

    def last_terminated(self) -> Mapping[str, Any]:
        """The most recent termination: current state if terminated, else lastState."""
        current = mapping(get(self.status, "state", "terminated"))
        return current or mapping(get(self.status, "lastState", "terminated"))


def node_of(pod: Obj) -> str:
    return text(get(pod, "spec", "nodeName"))


def on_node(pod: Obj) -> str:
    node = node_of(pod)
    return f" (node {node})" if node else ""


def is_terminating(pod: Obj) -> bool:
    return bool(get(pod, "metadata", "deletionTimestamp"))


def pod_phase(pod: Obj) -> str:
    return text(get(pod, "status", "phase"))


def pod_condition(pod: Obj, kind: str) -> Mapping[str, Any]:
    for condition in items(get(pod, "status", "conditions")):
        if condition.get("type") == kind:
            return condition
    return {}


def container_specs(pod: Obj) -> Iterator[tuple[Mapping[str, Any], bool]]:
    for spec in items(get(pod, "spec", "initContainers")):
        yield spec, True
    for spec in items(get(pod, "spec", "containers")):
        yield spec, False


def container_views(pod: Obj) -> Iterator[ContainerView]:
    """Containers that have a status (init containers first)."""
    pod_name = obj_name(pod)
    specs = {text(spec.get("name")): spec for spec, _ in container_specs(pod)}
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for status in items(get(pod, "status", key)):
            container = text(status.get("name"))
            yield ContainerView(pod, pod_name, container, status, mapping(specs.get(container)), init)


# ---------------------------------------------------------------- the context rules read


class Context:
    """A snapshot with the indexes rules need, built once (events by object, owners, orders)."""

    def __init__(
        self,
        snapshot: Snapshot,
        orders: Sequence[ReleaseOrder],
        paused_warning_after: float = PAUSED_WARNING_AFTER,
    ) -> None:
        self.snapshot = snapshot
        #: a release order paused longer than this blocks the next release (per environment)
        self.paused_warning_after = paused_warning_after
        self.now = snapshot.taken_at
        self.orders = tuple(order for order in orders if isinstance(order, ReleaseOrder))
        self.pods = [pod for pod in items(snapshot.pods) if obj_name(pod)]
        self._views: dict[str, list[ContainerView]] = {}
        self._workloads: dict[str, str | None] = {}
        self._events: dict[tuple[str, str], list[Obj]] = {}
        self._by_reason: dict[tuple[str, str, str], list[Obj]] = {}
        for event in items(snapshot.events):
            involved = mapping(get(event, "involvedObject"))
            kind, involved_name = text(involved.get("kind")), text(involved.get("name"))
            self._events.setdefault((kind, involved_name), []).append(event)
            self._by_reason.setdefault((kind, involved_name, ev_reason(event)), []).append(event)
        self.replicasets = {obj_name(rs): rs for rs in items(snapshot.replicasets)}
        self.deployments = {obj_name(d): d for d in items(snapshot.deployments)}
        self.statefulsets = {obj_name(s): s for s in items(snapshot.statefulsets)}
        self.argo_rollouts = {obj_name(r) for r in items(snapshot.argo_rollouts)}
        self.nodes = {obj_name(n): n for n in items(snapshot.nodes)}
        #: workload ref -> the Kruise Rollout that drives it
        self._kruise_for: dict[str, str] = {}
        for rollout in items(snapshot.kruise_rollouts):
            workload = mapping(get(rollout, "spec", "workloadRef"))
            kind, target = text(workload.get("kind")), text(workload.get("name"))
            if kind and target:
                self._kruise_for[ref(kind, target)] = ref("Rollout", obj_name(rollout))

    def events(self, kind: str, name: str, reasons: Collection[str] | None = None) -> list[Obj]:
        if reasons is None:
            return list(self._events.get((kind, name), []))
        found: list[Obj] = []
        for reason in reasons:
            found += self._by_reason.get((kind, name, reason), [])
        return found

    def events_of_kind(self, kind: str) -> Iterator[tuple[str, list[Obj]]]:
        for (event_kind, name), events in self._events.items():
            if event_kind == kind:
                yield name, events

    def age(self, value: Any) -> float | None:
        """Seconds from an API timestamp to the snapshot time."""
        return seconds_between(self.now, parse_time(value))

    def workload_of(self, pod: Obj) -> str | None:
        """Deployment/shop-web for a pod of a Deployment's ReplicaSet, StatefulSet/db, ... (cached)."""
        key = obj_name(pod)
        if key not in self._workloads:
            self._workloads[key] = self._workload_of(pod)
        return self._workloads[key]

    def _workload_of(self, pod: Obj) -> str | None:
        owner = controller_of(pod)
        if owner is None:
            return None
        kind, owner_name = owner
        if kind != "ReplicaSet":
            return ref(kind, owner_name)
        replicaset = self.replicasets.get(owner_name)
        if replicaset is not None:
            parent = controller_of(replicaset)
            return ref(*parent) if parent else ref(kind, owner_name)
        # ReplicaSet not read: a Deployment names its ReplicaSets <deployment>-<pod-template-hash>
        # (Argo Rollouts label theirs rollouts-pod-template-hash)
        template_hash = text(obj_labels(pod).get("pod-template-hash"))
        if template_hash and owner_name.endswith(f"-{template_hash}"):
            base = owner_name[: -len(template_hash) - 1]
            return ref("Rollout" if base in self.argo_rollouts else "Deployment", base)
        return ref(kind, owner_name)

    def restartable(self, workload: str | None) -> bool:
        if workload is None:
            return False
        kind, _, workload_name = workload.partition("/")
        return kind in RESTARTABLE_KINDS or (kind == "Rollout" and workload_name in self.argo_rollouts)

    def open_order(self, workload: str | None) -> ReleaseOrder | None:
        """The current, still open release order rolling out this workload."""
        if workload is None:
            return None
        targets = {workload, self._kruise_for.get(workload, workload)}
        for order in self.orders:
            if order.current and order.state in OPEN_ORDER_STATES and order.target in targets:
                return order
        return None

    def views_of(self, pod: Obj) -> list[ContainerView]:
        key = obj_name(pod)
        if key not in self._views:
            self._views[key] = list(container_views(pod))
        return self._views[key]

    @cached_property
    def live_views(self) -> list[ContainerView]:
        """Containers of pods that are neither terminating nor finished."""
        return [
            view
            for pod in self.pods
            if not is_terminating(pod) and pod_phase(pod) not in ("Succeeded", "Failed")
            for view in self.views_of(pod)
        ]


# ---------------------------------------------------------------- grouping


@dataclass
class Group:
    """What one finding collects: objects (ordered, unique), evidence lines, counts."""

    pods: dict[str, None] = field(default_factory=dict)
    workloads: dict[str, None] = field(default_factory=dict)
    others: dict[str, None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    first_pod: str = ""
    first_container: str = ""
    critical: bool = False

    def add_pod(self, ctx: Context, pod: Obj, container: str = "") -> None:
        pod_name = obj_name(pod)
        if not self.first_pod:
            self.first_pod, self.first_container = pod_name, container
        self.pods[pod_name] = None
        workload = ctx.workload_of(pod)
        if workload:
            self.workloads[workload] = None

    def add(self, obj_ref: str) -> None:
        self.others[obj_ref] = None

    @property
    def objects(self) -> tuple[str, ...]:
        pods = [ref("Pod", pod) for pod in self.pods]
        return tuple(dict.fromkeys([*pods, *self.workloads, *self.others]))

    def evidence(self, limit: int = EVIDENCE_LIMIT) -> tuple[str, ...]:
        return tuple(cap(self.lines, limit) + list(dict.fromkeys(self.context)))

    def pod_count(self) -> str:
        return plural(len(self.pods), "pod")


def finding(
    code: str,
    severity: str,
    title: str,
    detail: str,
    group: Group,
    actions: Iterable[ActionRef] = (),
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        title=title,
        detail=detail,
        evidence=group.evidence(),
        objects=group.objects,
        actions=unique_actions(actions),
    )


def unique_actions(actions: Iterable[ActionRef]) -> tuple[ActionRef, ...]:
    seen: dict[tuple[str, str, tuple[tuple[str, str], ...]], ActionRef] = {}
    for action in actions:
        seen.setdefault((action.action, action.target, tuple(sorted(action.params.items()))), action)
    return tuple(seen.values())


def events_action(group: Group) -> list[ActionRef]:
    return [ActionRef("events", ref("Pod", group.first_pod))] if group.first_pod else []


def logs_action(group: Group, previous: bool) -> list[ActionRef]:
    if not group.first_pod:
        return []
    params = {"container": group.first_container} if group.first_container else {}
    if previous:
        params["previous"] = "true"
    return [ActionRef("logs", ref("Pod", group.first_pod), params)]


def restart_actions(ctx: Context, group: Group) -> list[ActionRef]:
    return [ActionRef("restart", w) for w in group.workloads if ctx.restartable(w)]


def rollback_actions(ctx: Context, group: Group) -> list[ActionRef]:
    actions = []
    for workload in group.workloads:
        order = ctx.open_order(workload)
        if order is not None:
            actions.append(ActionRef("rollback_order", order.target))
    return actions


#: On a tie, the state a person sees longest wins (kubelet alternates ErrImagePull and
#: ImagePullBackOff); otherwise the alphabetically first, so the title never depends on
#: the order the API listed the pods in.
_PREFERRED = ("ImagePullBackOff", "CrashLoopBackOff")


def most_common(counter: Counter[str], default: str = "") -> str:
    if not counter:
        return default
    top = max(counter.values())
    tied = sorted(k for k, n in counter.items() if n == top)
    preferred = [k for k in _PREFERRED if k in tied]
    return preferred[0] if preferred else tied[0]


def sort_key(item: Finding) -> tuple[int, int, str, str]:
    return (severity_rank(item.severity), -len(item.objects), item.code, item.title)


# ---------------------------------------------------------------- quantities

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3}
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)([A-Za-z]*)$")


def memory_bytes(quantity: Any) -> float | None:
    """Bytes of a Kubernetes quantity ("512Mi", "2G", "1e9"); None when unreadable."""
    if isinstance(quantity, int | float) and not isinstance(quantity, bool):
        return float(quantity)
    found = _QUANTITY.match(text(quantity).strip())
    if not found:
        return None
    number, suffix = found.groups()
    factor = _BINARY.get(suffix) or _DECIMAL.get(suffix) or (1 if suffix == "" else None)
    try:
        return float(number) * factor if factor is not None else None
    except ValueError:
        return None
