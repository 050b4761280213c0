"""One environment at one moment: the objects an inspection read, as the API returned them.

Objects are plain JSON dicts exactly as `kubectl get -o json` shows them (camelCase keys),
so rules read the same field names as the docs and test fixtures are real API output.
The adapter fills it; everything downstream (release orders, diagnosis) is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Snapshot:
    environment: str
    namespace: str
    #: label selector of the environment ("app=shop,env=prod"), "" for the whole namespace
    selector: str
    taken_at: datetime
    pods: tuple[Obj, ...] = ()
    events: tuple[Obj, ...] = ()
    deployments: tuple[Obj, ...] = ()
    statefulsets: tuple[Obj, ...] = ()
    replicasets: tuple[Obj, ...] = ()
    #: StatefulSet revisions (apps/v1 ControllerRevision): what a StatefulSet rollback goes back to
    controllerrevisions: tuple[Obj, ...] = ()
    services: tuple[Obj, ...] = ()
    endpoints: tuple[Obj, ...] = ()
    pvcs: tuple[Obj, ...] = ()
    resourcequotas: tuple[Obj, ...] = ()
    limitranges: tuple[Obj, ...] = ()
    nodes: tuple[Obj, ...] = ()
    argo_rollouts: tuple[Obj, ...] = ()
    kruise_rollouts: tuple[Obj, ...] = ()
    #: what could not be read, by field name ("nodes" -> "forbidden: ..."); diagnosis goes on
    #: with what it has and the report says what it could not see
    unavailable: Mapping[str, str] = field(default_factory=dict)


def get(obj: Obj | None, *path: str | int, default: Any = None) -> Any:
    """obj["a"]["b"][0]... or `default` when any step is missing: status fields are often absent."""
    current: Any = obj
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, Sequence) or isinstance(current, str) or len(current) <= step:
                return default
            current = current[step]
        else:
            if not isinstance(current, Mapping) or step not in current:
                return default
            current = current[step]
    return default if current is None else current


def name(obj: Obj) -> str:
    return str(get(obj, "metadata", "name", default=""))


def ref(kind: str, obj_name: str) -> str:
    """How objects are named in evidence and action targets: Pod/shop-web-7d9f."""
    return f"{kind}/{obj_name}"


def labels(obj: Obj) -> Mapping[str, str]:
    found = get(obj, "metadata", "labels", default={})
    return found if isinstance(found, Mapping) else {}


def owner(obj: Obj, kind: str | None = None) -> str | None:
    """Name of the controller owner (optionally only of that kind)."""
    for ref_ in get(obj, "metadata", "ownerReferences", default=[]):
        if (kind is None or ref_.get("kind") == kind) and ref_.get("controller", True):
            return str(ref_.get("name"))
    return None


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 timestamps as the API writes them (2026-11-21T10:00:00Z)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def event_count(event: Obj) -> int:
    count = get(event, "count")
    if isinstance(count, int) and count > 0:
        return count
    series = get(event, "series", "count")
    return series if isinstance(series, int) and series > 0 else 1


def event_last_seen(event: Obj) -> datetime | None:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        when = parse_time(get(event, key))
        if when is not None:
            return when
    return parse_time(get(event, "metadata", "creationTimestamp"))
