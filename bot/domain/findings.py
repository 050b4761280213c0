"""Finding codes and action ids: the public vocabulary shared by diagnosis, actions and the knowledge base."""

from __future__ import annotations

FINDING_CODES: frozenset[str] = frozenset(
    {
        "ImagePullFailed",
        "NotReady",
        "CrashLoop",
        "OOMKilled",
        "ProbeFailed",
        "ConfigMissing",
        "Unschedulable",
        "QuotaExceeded",
        "VolumeFailed",
        "Evicted",
        "NodeNotReady",
        "StuckTerminating",
        "HookFailed",
        "StaleImage",
        "NoEndpoints",
        "ReleasePaused",
        "ReleaseFailed",
    }
)

ACTION_IDS: frozenset[str] = frozenset(
    {
        "close_order",
        "resume_order",
        "pause_order",
        "rollback_order",
        "retry_failed",
        "scale",
        "restore",
        "restart",
        "delete_pod",
        "logs",
        "events",
    }
)
