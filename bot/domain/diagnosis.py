"""Diagnosis: what is wrong in one environment, as findings ranked most severe first.

Pure: a `Snapshot` (raw API objects) and the release orders read from it go in, `Finding`s come
out. One small rule per finding code; each groups the same cause across pods into one finding
("7 pods: ImagePullBackOff on shop:v1.4.3"), with evidence from the cluster, the cause and the
fix, and the actions that apply. A healthy environment gives [].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bot.domain._cluster_rules import (
    no_endpoints,
    node_not_ready,
    quota_exceeded,
    release_failed,
    release_paused,
)
from bot.domain._container_rules import (
    config_missing,
    crash_loop,
    hook_failed,
    image_pull_failed,
    oom_killed,
    probe_failed,
    stale_image,
)
from bot.domain._diag_base import Context, sort_key
from bot.domain._fallback_rules import CODE as FALLBACK_CODE
from bot.domain._fallback_rules import unexplained
from bot.domain._pod_rules import evicted, stuck_terminating, unschedulable, volume_failed
from bot.domain.diagnosis_types import PAUSED_WARNING_AFTER, Finding
from bot.domain.releases import ReleaseOrder
from bot.domain.snapshot import Snapshot

Rule = Callable[[Context], list[Finding]]

#: finding code -> the rule that reports it
RULES: Mapping[str, Rule] = {
    "ImagePullFailed": image_pull_failed,
    "CrashLoop": crash_loop,
    "OOMKilled": oom_killed,
    "ProbeFailed": probe_failed,
    "ConfigMissing": config_missing,
    "Unschedulable": unschedulable,
    "QuotaExceeded": quota_exceeded,
    "VolumeFailed": volume_failed,
    "Evicted": evicted,
    "NodeNotReady": node_not_ready,
    "StuckTerminating": stuck_terminating,
    "HookFailed": hook_failed,
    "StaleImage": stale_image,
    "NoEndpoints": no_endpoints,
    "ReleasePaused": release_paused,
    "ReleaseFailed": release_failed,
}


#: reported when no rule in RULES explains what is not ready
FALLBACK_CODES = frozenset({FALLBACK_CODE})


def diagnose(
    snapshot: Snapshot,
    orders: Sequence[ReleaseOrder],
    *,
    paused_warning_after: float = PAUSED_WARNING_AFTER,
) -> list[Finding]:
    """Every finding of the environment: critical, warning, info; then the most objects first."""
    context = Context(snapshot, orders, paused_warning_after)
    findings = [found for rule in RULES.values() for found in rule(context)]
    findings += unexplained(context, findings)  # what is not ready and no rule explained
    return sorted(findings, key=sort_key)
