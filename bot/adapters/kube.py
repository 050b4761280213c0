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
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.environments import Environment
from bot.domain.snapshot import Snapshot
from bot.errors import (
    ClusterConflict,
    ClusterError,
    ClusterForbidden,
    ClusterNotFound,
    ClusterUnauthorized,
    ClusterUnreachable,
)

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
DISCOVERY_TTL = 300.0
ARGO_GROUP, ARGO_VERSION = "argoproj.io", "v1alpha1"
KRUISE_GROUP, KRUISE_VERSIONS = "rollouts.kruise.io", ("v1beta1", "v1alpha1")
#: what pods/log negotiates (not text/plain: that is a 406), see KubeClient.request_text
LOG_ACCEPT = "application/json, */*"


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
    ListSpec("controllerrevisions", "controllerrevisions", "apps", "v1", selector=True),
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
        """For the few endpoints that answer plain text (pods/log).

        The body is text/plain, but kube-apiserver negotiates the log subresource against its
        JSON/YAML/protobuf serializers and answers `Accept: text/plain` with 406 Not Acceptable
        (kubernetes/kubernetes#61450); the official client asks for application/json here, kubectl
        for `application/json, */*`. The log comes back raw either way; errors come back as a
        JSON Status, which api_error reads.
        """
        data = self._call(method, path, query=query, what=what, accept=LOG_ACCEPT, errors=log_error)
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
        errors: Callable[[int, bytes, str, KubeClient], ClusterError | None] | None = None,
    ) -> bytes:
        from urllib3.exceptions import HTTPError

        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        response = self._send(
            method, path, query=query, headers=headers, body=body, read_timeout=READ_TIMEOUT
        )
        try:
            data: bytes = response.read() or b""
        except HTTPError as exc:
            raise self._unreachable(exc) from None
        self._check(response.status, data, what or f"{method} {path}", errors)
        return data

    def open_stream(
        self,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        read_timeout: float = READ_TIMEOUT,
        what: str = "",
        errors: Callable[[int, bytes, str, KubeClient], ClusterError | None] | None = None,
    ) -> Any:
        """A GET whose body is read as it arrives (a watch): the urllib3 response, unread.

        The caller iterates `response.stream(amt=None)` and then `close()`s and `release_conn()`s it
        (a stream read to its end hands its connection back to the pool for reuse); errors are the
        same as `request`'s (a non-2xx body is read and named, `errors` first).
        """
        headers = {"Accept": "application/json"}
        response = self._send("GET", path, query=query, headers=headers, body=None, read_timeout=read_timeout)
        raw = response.response
        if not 200 <= raw.status < 300:
            data: bytes = raw.data or b""
            raw.release_conn()
            self._check(raw.status, data, what or f"GET {path}", errors)
        return raw

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: Any,
        read_timeout: float,
    ) -> Any:
        """One request through the official client's ApiClient (auth, TLS, pool); counted."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        self.calls += 1
        try:
            method_, url, headers_, body_, _ = self._api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query),
                header_params=dict(headers),
                body=body,
                auth_settings=["BearerToken"],
            )
            return self._api.call_api(
                method_,
                url,
                header_params=headers_,
                body=body_,
                _request_timeout=(CONNECT_TIMEOUT, read_timeout),
            )
        except (ApiException, HTTPError) as exc:  # ApiException status 0: TLS or transport failures
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: Exception) -> ClusterUnreachable:
        return ClusterUnreachable(f"cannot reach the Kubernetes API at {self.server}: {_reason(exc)}")

    def _check(
        self,
        status: int,
        data: bytes,
        what: str,
        errors: Callable[[int, bytes, str, KubeClient], ClusterError | None] | None,
    ) -> None:
        if not 200 <= status < 300:
            raise (errors and errors(status, data, what, self)) or api_error(status, data, what, self)

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
        return ClusterNotFound(f"not found while trying to {what} (404){detail}")
    if status == 409 and reason == "AlreadyExists":
        return ClusterConflict(f"cannot {what}: it already exists (409){detail}")
    if status == 409:
        return ClusterConflict(f"conflict while trying to {what} (409): the object changed meanwhile{detail}")
    if status == 429 or status >= 500:
        return ClusterUnreachable(f"the Kubernetes API could not {what} right now ({status}){detail}")
    if status == 422 and (causes := _invalid_fields(body)):
        return ClusterError(f"the Kubernetes API refused to {what} (422, invalid): {causes}")
    return ClusterError(f"the Kubernetes API refused to {what} ({status}){detail}")


def _invalid_fields(body: Any) -> str:
    """A 422 Status's details.causes on one line: "spec.replicas: must be greater than or equal to 0
    (got -1)"; the field first, then why (FieldValueInvalid's "Invalid value: X: " moved to the end)."""
    try:
        details = (json.loads(body) if body else {}).get("details") or {}
    except (ValueError, AttributeError):
        return ""
    kind, obj_name = details.get("kind", ""), details.get("name", "")
    parts = []
    for cause in details.get("causes") or []:
        if not isinstance(cause, Mapping):
            continue
        why = " ".join(str(cause.get("message") or cause.get("reason") or "invalid").split())
        found = re.match(r"^Invalid value: (.*?): (.+)$", why)
        if found:
            why = f"{found.group(2)} (got {found.group(1)[:60]})"
        parts.append(f"{cause.get('field') or '(object)'}: {why}")
    if not parts:
        return ""
    where = f"{kind}/{obj_name}: " if kind and obj_name else ""
    return where + "; ".join(parts)


def log_error(status: int, body: Any, what: str, client: KubeClient) -> ClusterError | None:
    """pods/log is served by the node's kubelet through the API server: say so when that hop fails.

    The API server answers 5xx with e.g. `Get "https://10.0.1.12:10250/containerLogs/...": dial tcp
    ...: connect: connection refused` when it cannot reach the kubelet; that is the node, not the API.
    """
    try:
        message = str((json.loads(body) if body else {}).get("message", ""))
    except (ValueError, AttributeError):
        message = str(body)[:300]
    if status < 500 or "containerLogs" not in message:
        return None
    found = re.search(r"https?://([^/\"]+)/containerLogs", message)
    kubelet = f" at {found.group(1)}" if found else ""
    cause = message.rpartition(": ")[2] if ": " in message else message
    return ClusterError(
        f"cannot {what}: the API server could not reach the kubelet{kubelet} of the pod's node "
        f"({status}: {cause[:200]}); the node may be down or its kubelet port (10250) blocked from the "
        f"API server, so `kubectl logs` fails the same way: check `kubectl get node` (API: {message[:300]})"
    )


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
    namespaced = [spec.field for spec in specs if spec.namespaced]
    if not any(fields.get(name) for name in namespaced) and await asyncio.to_thread(
        namespace_missing, client, env.namespace
    ):
        raise ClusterError(
            f"namespace {env.namespace} does not exist at {client.server}: check environment"
            f" {env.name}'s namespace in deploybot.yaml"
        )
    return Snapshot(
        environment=env.name,
        namespace=env.namespace,
        selector=env.selector,
        taken_at=now or datetime.now(UTC),
        unavailable=unavailable,
        **fields,
    )


def namespace_missing(client: KubeClient, namespace: str) -> bool:
    """An empty namespace and a missing one list the same (nothing). Only asked when every list
    came back empty: a dry-run Event create, which the bot may do anyway (the chart grants
    `create events`), is refused with 404 by the API server's NamespaceLifecycle admission when
    the namespace does not exist, and nothing is stored either way."""
    probe = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": "deploybot-probe-", "namespace": namespace},
        "involvedObject": {
            "kind": "Namespace",
            "name": namespace,
            "namespace": namespace,
            "apiVersion": "v1",
        },
        "reason": "DeploybotProbe",
        "message": "deploybot: does this namespace exist? (dry run, never stored)",
        "type": "Normal",
        "source": {"component": "deploybot"},
    }
    try:
        client.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/events",
            query=(("dryRun", "All"),),
            body=probe,
            what=f"create events in namespace {namespace}",
        )
    except ClusterNotFound:
        return True
    except ClusterUnreachable:
        raise
    except ClusterError:
        return False  # cannot tell (a read-only install may not create events): inspect as usual
    return False
