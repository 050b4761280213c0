"""What a diagnosis says: findings and the actions they offer. Shared by rules, rendering, actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class ActionRef:
    """An action a finding offers: one of findings.ACTION_IDS on one object."""

    action: str
    #: "Deployment/shop-web", "Pod/shop-web-7d9f-x2k8p", "Rollout/shop-web"
    target: str
    #: e.g. {"replicas": "0"} for scale, {"container": "web", "previous": "true"} for logs
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    #: one line, grouped: "7 pods: ImagePullBackOff on shop:v1.4.3"
    title: str
    #: the cause and the fix in one or two lines
    detail: str
    #: concrete lines from the cluster: object, container, reason, exit code, event message ×count, node
    evidence: tuple[str, ...]
    #: "Kind/name" of every object involved
    objects: tuple[str, ...]
    actions: tuple[ActionRef, ...] = ()
    #: knowledge entry ids explaining it; filled by the service from the finding code
    kb: tuple[str, ...] = ()


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


#: default seconds a release order may wait paused before it is a warning (`paused_warning_after`)
PAUSED_WARNING_AFTER = 600.0
