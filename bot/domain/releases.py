"""Release orders (发布单) read from what the cluster says about a rollout.

A release order is one rollout of a workload to a new version: a Deployment revision, a
StatefulSet update revision, an Argo `Rollout` or an OpenKruise `Rollout` in progress.
Pure: objects in, `ReleaseOrder`s out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Release-order states, as PRODUCT.md names them.
STATES = ("deploying", "paused", "completed", "failed", "closed")


@dataclass(frozen=True)
class ReleaseOrder:
    #: Deployment | StatefulSet | Rollout (argo) | Rollout (kruise): see `source`
    kind: str
    #: argo | kruise | apps (Deployment/StatefulSet)
    source: str
    #: the object the order lives on (what actions patch): "Deployment/shop-web"
    target: str
    #: the revision this order rolls out (Deployment revision annotation, StatefulSet
    #: updateRevision, Argo currentPodHash, Kruise workload revision)
    revision: str
    state: str
    #: 1-based batch being rolled out and the number of batches (1 of 1 without batches)
    batch: int
    batches: int
    old_version: str | None
    new_version: str | None
    desired: int
    updated: int
    ready: int
    available: int
    started_at: datetime | None
    changed_at: datetime | None
    #: why it is in this state, in the cluster's words ("ProgressDeadlineExceeded: ...")
    reason: str
    #: resourceVersion of the target when read: actions are refused if it changed since
    resource_version: str
    #: True for the current order of its workload, False for history
    current: bool = True
