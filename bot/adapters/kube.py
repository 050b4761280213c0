"""The Kubernetes API, through the official client: the only module that imports `kubernetes`.

Lists come back as raw JSON (`_preload_content=False`), the shape `kubectl get -o json`
shows: no model deserialization for 1,000 pods, and custom resources read the same way as
built-in ones. Calls are blocking (urllib3), so `fetch_snapshot` runs them in threads and
the Slack app's event loop stays free. Every API failure becomes an error that says what
to do, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.environments import Environment
from bot.domain.snapshot import Snapshot
from bot.errors import (
    ClusterConflict,
    ClusterError,
    ClusterForbidden,
    ClusterUnauthorized,
    ClusterUnreachable,
)

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
DISCOVERY_TTL = 300.0
ARGO_GROUP, ARGO_VERSION = "argoproj.io", "v1alpha1"
KRUISE_GROUP, KRUISE_VERSIONS = "rollouts.kruise.io", ("v1beta1", "v1alpha1")


@dataclass(frozen=True)
class ListSpec:
    """One list call of a snapshot: which Snapshot field it fills and how to ask for it."""

    field: str
    resource: str
    group: str  # "" for the core group
    version: str
    namespaced: bool = True
    selector: bool = False
    #: optional: a 403 is reported in the snapshot instead of failing the inspection
    optional: bool = True

    def path(self, namespace: str) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.resource}"
        return f"{base}/{self.resource}"


CORE_LISTS: tuple[ListSpec, ...] = (
    ListSpec("pods", "pods", "", "v1", selector=True, optional=False),
    ListSpec("events", "events", "", "v1"),
    ListSpec("deployments", "deployments", "apps", "v1", selector=True),
    ListSpec("statefulsets", "statefulsets", "apps", "v1", selector=True),
    ListSpec("replicasets", "replicasets", "apps", "v1", selector=True),
    ListSpec("services", "services", "", "v1"),
    ListSpec("endpoints", "endpoints", "", "v1"),
    ListSpec("pvcs", "persistentvolumeclaims", "", "v1"),
    ListSpec("resourcequotas", "resourcequotas", "", "v1"),
    ListSpec("limitranges", "limitranges", "", "v1"),
    ListSpec("nodes", "nodes", "", "v1", namespaced=False),
)


class KubeClient:
    """A thin, thread-safe wrapper over one ApiClient (one kubeconfig context or in-cluster)."""

    def __init__(self, api_client: Any, *, user: str = "the bot") -> None:
        self._api = api_client
        self.server: str = api_client.configuration.host
        self.user = user
        self.calls = 0
        self._groups: tuple[float, Mapping[str, tuple[str, ...]]] | None = None

    @classmethod
    def connect(cls, *, kubeconfig: str | None = None, context: str | None = None) -> KubeClient:
        """kubeconfig (path, KUBECONFIG, ~/.kube/config; optional context) or in-cluster config."""
        import os

        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        in_cluster = (
            not kubeconfig and not os.environ.get("KUBECONFIG") and os.environ.get("KUBERNETES_SERVICE_HOST")
        )
        try:
            if in_cluster:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                user = "the bot's service account"
            else:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
                user = f"the kubeconfig user{f' of context {context}' if context else ''}"
        except ConfigException as exc:
            raise ClusterError(f"no usable Kubernetes credentials: {exc}") from None
        except FileNotFoundError as exc:
            raise ClusterError(f"kubeconfig not found: {exc.filename}") from None
        configuration.connection_pool_maxsize = 32
        configuration.retries = 1
        return cls(client.ApiClient(configuration), user=user)

    def close(self) -> None:
        self._api.close()

    # -- raw calls -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        what: str = "",
    ) -> dict[str, Any]:
        """One API call; JSON in and out; errors named for the person who has to fix them."""
        data = self._call(method, path, query=query, body=body, content_type=content_type, what=what)
        parsed: dict[str, Any] = json.loads(data) if data else {}
        return parsed

    def request_text(
        self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (), what: str = ""
    ) -> str:
        """For the few endpoints that answer plain text (pods/log)."""
        data = self._call(method, path, query=query, what=what, accept="text/plain")
        return data.decode("utf-8", errors="replace")

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        what: str = "",
        accept: str = "application/json",
    ) -> bytes:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        self.calls += 1
        try:
            method_, url, headers_, body_, _ = self._api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(
                method_,
                url,
                header_params=headers_,
                body=body_,
                _request_timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            )
            data: bytes = response.read() or b""
        except ApiException as exc:  # status 0: TLS or transport failures the client wraps
            raise ClusterUnreachable(
                f"cannot reach the Kubernetes API at {self.server}: {_reason(exc)}"
            ) from None
        except HTTPError as exc:
            raise ClusterUnreachable(
                f"cannot reach the Kubernetes API at {self.server}: {_reason(exc)}"
            ) from None
        if not 200 <= response.status < 300:
            raise api_error(response.status, data, what or f"{method} {path}", self)
        return data

    def list_objects(self, spec: ListSpec, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        query = [("labelSelector", selector)] if spec.selector and selector else []
        what = f"list {spec.resource}" + (
            f" in namespace {namespace}" if spec.namespaced else " (cluster-wide)"
        )
        items = self.request("GET", spec.path(namespace), query=query, what=what).get("items") or []
        return list(items)

    def api_groups(self) -> Mapping[str, tuple[str, ...]]:
        """Installed API groups and their versions, cached: CRDs come and go rarely."""
        now = time.monotonic()
        if self._groups is None or now - self._groups[0] > DISCOVERY_TTL:
            data = self.request("GET", "/apis", what="discover API groups")
            groups = {
                g["name"]: tuple(v["version"] for v in g.get("versions", []))
                for g in data.get("groups", [])
                if "name" in g
            }
            self._groups = (now, groups)
        return self._groups[1]

    def rollout_lists(self) -> list[ListSpec]:
        """Argo and Kruise Rollout lists, only for the CRDs that are installed."""
        try:
            groups = self.api_groups()
        except ClusterForbidden:
            return []
        specs = []
        if ARGO_VERSION in groups.get(ARGO_GROUP, ()):
            specs.append(ListSpec("argo_rollouts", "rollouts", ARGO_GROUP, ARGO_VERSION))
        kruise = [v for v in KRUISE_VERSIONS if v in groups.get(KRUISE_GROUP, ())]
        if kruise:
            specs.append(ListSpec("kruise_rollouts", "rollouts", KRUISE_GROUP, kruise[0]))
        return specs


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    for marker, plain in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Name or service not known", "unknown host"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ):
        if marker in text:
            return plain
    return text[:200]


def api_error(status: int, body: Any, what: str, client: KubeClient) -> ClusterError:
    message, reason = "", ""
    try:
        status_body = json.loads(body) if body else {}
        message, reason = status_body.get("message", ""), status_body.get("reason", "")
    except (ValueError, AttributeError):
        message = str(body)[:200]
    detail = f" (API: {message})" if message else ""
    if status == 401:
        return ClusterUnauthorized(
            f"the Kubernetes API at {client.server} rejected the credentials of {client.user} (401): "
            f"the token or certificate is missing, expired or revoked"
        )
    if status == 403:
        verb, _, rest = what.partition(" ")
        return ClusterForbidden(
            f"{client.user} may not {what} (403): grant `{verb}` on {rest.split(' ')[0]} "
            f"in the chart's Role/ClusterRole{detail}"
        )
    if status == 404:
        return ClusterError(f"not found while trying to {what} (404){detail}")
    if status == 409 and reason == "AlreadyExists":
        return ClusterConflict(f"cannot {what}: it already exists (409){detail}")
    if status == 409:
        return ClusterConflict(f"conflict while trying to {what} (409): the object changed meanwhile{detail}")
    if status == 429 or status >= 500:
        return ClusterUnreachable(f"the Kubernetes API could not {what} right now ({status}){detail}")
    return ClusterError(f"the Kubernetes API refused to {what} ({status}){detail}")


async def fetch_snapshot(client: KubeClient, env: Environment, *, now: datetime | None = None) -> Snapshot:
    """Every list of one environment, concurrently: a constant number of calls, any pod count."""
    specs = [*CORE_LISTS, *await asyncio.to_thread(client.rollout_lists)]

    async def one(spec: ListSpec) -> tuple[str, list[dict[str, Any]] | ClusterError]:
        try:
            return spec.field, await asyncio.to_thread(client.list_objects, spec, env.namespace, env.selector)
        except (ClusterForbidden, ClusterError) as exc:
            if isinstance(exc, ClusterUnreachable | ClusterUnauthorized) or not spec.optional:
                raise
            return spec.field, exc

    results = await asyncio.gather(*(one(spec) for spec in specs))
    fields: dict[str, tuple[dict[str, Any], ...]] = {}
    unavailable: dict[str, str] = {}
    for field_name, result in results:
        if isinstance(result, ClusterError):
            unavailable[field_name] = str(result)
        else:
            fields[field_name] = tuple(result)
    return Snapshot(
        environment=env.name,
        namespace=env.namespace,
        selector=env.selector,
        taken_at=now or datetime.now(UTC),
        unavailable=unavailable,
        **fields,
    )
