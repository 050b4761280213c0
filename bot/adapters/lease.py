"""Leader election with a Kubernetes Lease (coordination.k8s.io/v1) in the bot's own namespace:
with several replicas, exactly one posts incidents. The holder renews every look; a Lease not
renewed for `duration` seconds may be taken over. Every write carries the resourceVersion it
read, so two replicas racing for an expired Lease cannot both win (the API server answers the
second with 409)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.kube import KubeClient
from bot.errors import ClusterConflict, ClusterError, ClusterNotFound

log = logging.getLogger(__name__)
_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


class LeaseElector:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        identity: str,
        *,
        name: str = "deploybot-oncall",
        duration: int = 45,
    ) -> None:
        self.client, self.namespace, self.identity = client, namespace, identity
        self.name, self.duration = name, duration
        self.leading = False

    @property
    def _path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Hold (or take) the Lease now; False while another replica holds a live one, or on any
        API failure (a replica that cannot renew must stop posting)."""
        now = now or datetime.now(UTC)
        try:
            lease = self.client.request(
                "GET", f"{self._path}/{self.name}", what=f"get leases in namespace {self.namespace}"
            )
        except ClusterNotFound:
            return self._set(self._create(now))
        except ClusterError as exc:
            log.warning("on-call lease: %s", exc)
            return self._set(False)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder != self.identity and not _expired(spec, now):
            return self._set(False)
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": lease["metadata"]["resourceVersion"],
            },
            "spec": {
                **spec,
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration,
                "renewTime": now.strftime(_MICRO),
                "leaseTransitions": transitions,
                **({} if holder == self.identity else {"acquireTime": now.strftime(_MICRO)}),
            },
        }
        try:
            self.client.request(
                "PUT",
                f"{self._path}/{self.name}",
                body=body,
                what=f"update leases in namespace {self.namespace}",
            )
        except ClusterConflict:
            return self._set(False)  # another replica renewed or took it first
        except ClusterError as exc:
            log.warning("on-call lease: %s", exc)
            return self._set(False)
        if holder != self.identity:
            log.info("on-call lease %s/%s taken over from %s", self.namespace, self.name, holder or "nobody")
        return self._set(True)

    def _create(self, now: datetime) -> bool:
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration,
                "acquireTime": now.strftime(_MICRO),
                "renewTime": now.strftime(_MICRO),
                "leaseTransitions": 0,
            },
        }
        try:
            self.client.request(
                "POST", self._path, body=body, what=f"create leases in namespace {self.namespace}"
            )
        except ClusterConflict:
            return False
        except ClusterError as exc:
            log.warning("on-call lease: %s", exc)
            return False
        return True

    def _set(self, leading: bool) -> bool:
        self.leading = leading
        return leading


def _expired(spec: dict[str, Any], now: datetime) -> bool:
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed:
        return True
    try:
        at = datetime.strptime(str(renewed).replace("+00:00", "Z"), _MICRO).replace(tzinfo=UTC)
    except ValueError:
        at = datetime.strptime(str(renewed), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return now > at + timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0))
