"""One environment kept in memory: list each resource once, then follow it with the watch API.

The same lists `fetch_snapshot` makes (`CORE_LISTS` and the installed Rollout CRDs), each in
its own thread: list (remember the list's resourceVersion), then watch from it
(`?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=N`) and apply ADDED /
MODIFIED / DELETED to a dict keyed by uid. When a watch ends (the server's timeoutSeconds, a
dropped connection) it resumes from the last resourceVersion seen (events and BOOKMARKs);
when the server says that version is gone (410: an `ERROR` event with code 410 or a 410
response) it lists again and reports the difference as events. Errors back off exponentially.

The watch is the raw stream through the same `ApiClient` `KubeClient` wraps (same
credentials, call counter and error messages), read as raw JSON like every list: the
official `kubernetes.watch.Watch` deserializes every object into models (unless
`deserialize=False`), retries a 410 once on its own from a version that is as old, and stops
retrying when `timeout_seconds` is set, so its loop is not the one we want; its way of reading
(`resp.stream(amt=None)` split at newlines, `stop()` shutting the socket down) is the one used.

`snapshot()` builds a `Snapshot` from memory (no API call). A resource the bot may not list
(403 on an optional list, e.g. nodes) is in `unavailable`, as with `fetch_snapshot`, and is
tried again every `forbidden_retry` seconds. A resource it may list but not watch (the
`watch` verb missing from the Role) is listed again every `poll_interval` seconds instead.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from urllib3.exceptions import HTTPError

from bot.adapters.kube import CORE_LISTS, KubeClient, ListSpec, api_error, namespace_missing
from bot.domain.environments import Environment
from bot.domain.snapshot import Obj, Snapshot
from bot.errors import ClusterError, ClusterForbidden, ClusterUnauthorized, ClusterUnreachable

log = logging.getLogger(__name__)

#: on_change(kind, event_type, obj): kind is the Snapshot field ("pods"), event_type is
#: ADDED | MODIFIED | DELETED, obj the object as the API returned it (for DELETED: its last state)
ChangeCallback = Callable[[str, str, Obj], None]

BUILTIN_GROUPS = ("", "apps")


class WatchGone(ClusterError):
    """410 Gone: the resourceVersion to resume from is no longer in the API server's history."""


def _gone(status: int, body: bytes, what: str, client: KubeClient) -> ClusterError | None:
    return WatchGone(f"cannot {what}: resourceVersion expired (410)") if status == 410 else None


@dataclass
class WatchCounters:
    """For /metrics: monotonic counts since start()."""

    lists: int = 0  # every list call, initial ones included
    relists: int = 0  # lists after the first one of a resource (410, poll, forbidden retry)
    watch_restarts: int = 0  # watches opened again after one ended or failed
    events_applied: int = 0  # ADDED/MODIFIED/DELETED applied to memory (relist diffs included)
    errors: int = 0  # failed list or watch calls (each one backs off)


@dataclass
class _Resource:
    spec: ListSpec
    objects: dict[str, Obj] = field(default_factory=dict)
    resource_version: str = ""
    listed: bool = False  # the first list succeeded (or the list is forbidden and optional)
    unavailable: str = ""  # optional list forbidden: the message, as fetch_snapshot reports it
    error: ClusterError | None = None  # the last failure, cleared by the next success
    down_since: float | None = None  # monotonic time of the first failure since the last success
    can_watch: bool = True
    response: Any = None  # the open watch stream, for stop()
    cached: tuple[Obj, ...] | None = None  # the sorted tuple the last snapshot used


class WatchCache:
    """List+watch cache of one environment; `start()` it, read `snapshot()`, `stop()` it."""

    def __init__(
        self,
        client: KubeClient,
        env: Environment,
        *,
        timeout_seconds: int = 300,
        backoff: tuple[float, float] = (0.5, 30.0),
        poll_interval: float = 30.0,
        forbidden_retry: float = 300.0,
        stale_after: float = 120.0,
    ) -> None:
        self.client = client
        self.env = env
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff
        self.poll_interval = poll_interval
        self.forbidden_retry = forbidden_retry
        self.stale_after = stale_after
        self.counters = WatchCounters()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._synced = threading.Event()
        self._resources: dict[str, _Resource] = {}
        self._threads: list[threading.Thread] = []
        self._callbacks: list[ChangeCallback] = []
        self._namespace_missing = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> WatchCache:
        """Discover the Rollout CRDs (one call), then one list+watch thread per resource."""
        if self._threads:
            return self
        specs = [*CORE_LISTS, *self.client.rollout_lists()]
        self._resources = {spec.field: _Resource(spec) for spec in specs}
        for res in self._resources.values():
            thread = threading.Thread(
                target=self._run, args=(res,), name=f"watch-{self.env.name}-{res.spec.field}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """End every thread: wake the sleepers, cut the open streams. True when all ended in time."""
        self._stopping.set()
        with self._lock:
            streams = [res.response for res in self._resources.values() if res.response is not None]
        for response in streams:
            _shutdown(response)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> WatchCache:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def synced(self) -> bool:
        """Every resource listed once (or known to be forbidden): snapshot() can answer."""
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call `callback(kind, event_type, obj)` for every change applied; returns an unsubscribe.

        It runs in the resource's watch thread, so it must be quick (hand work to a queue); an
        exception in it is logged and does not stop the watch.
        """
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    # -- reading ---------------------------------------------------------------------------
    def snapshot(self, *, now: datetime | None = None) -> Snapshot:
        """The environment as last seen, from memory: the shape `fetch_snapshot` returns, 0 API calls.

        Raises the error `fetch_snapshot` would raise while a required list (pods) fails or has
        never succeeded, and when the namespace does not exist. Raises ClusterUnreachable when a
        resource could not be listed or watched for `stale_after` seconds: old data is not
        passed off as the present (a short outage, while the watch reconnects, is not reported).
        """
        now_mono = time.monotonic()
        fields: dict[str, tuple[Obj, ...]] = {}
        unavailable: dict[str, str] = {}
        with self._lock:
            for name, res in self._resources.items():
                if not res.listed:
                    if res.error is not None:  # a fresh exception: this one may be raised in other threads
                        raise type(res.error)(str(res.error))
                    raise ClusterUnreachable(
                        f"the watch of {res.spec.resource} in namespace {self.env.namespace} has not"
                        f" listed it yet at {self.client.server}"
                    )
                if res.unavailable:
                    unavailable[name] = res.unavailable
                    continue
                if res.down_since is not None and now_mono - res.down_since > self.stale_after:
                    raise ClusterUnreachable(
                        f"deploybot has not been able to follow {res.spec.resource} in namespace"
                        f" {self.env.namespace} for {now_mono - res.down_since:.0f} s: {res.error}"
                    )
                if res.cached is None:
                    res.cached = tuple(sorted(res.objects.values(), key=_order))
                fields[name] = res.cached
            if self._namespace_missing:
                raise ClusterError(
                    f"namespace {self.env.namespace} does not exist at {self.client.server}: check"
                    f" environment {self.env.name}'s namespace in deploybot.yaml"
                )
        if not self._resources:
            raise ClusterError("the watch cache was not started")
        return Snapshot(
            environment=self.env.name,
            namespace=self.env.namespace,
            selector=self.env.selector,
            taken_at=now or datetime.now(UTC),
            unavailable=unavailable,
            **fields,
        )

    def status(self) -> dict[str, dict[str, Any]]:
        """Per resource: objects held, resourceVersion, watching or polling, the last error."""
        with self._lock:
            return {
                name: {
                    "objects": len(res.objects),
                    "resource_version": res.resource_version,
                    "listed": res.listed,
                    "watching": res.can_watch and res.response is not None,
                    "unavailable": res.unavailable,
                    "error": str(res.error) if res.error else "",
                    "down_for": round(time.monotonic() - res.down_since, 1) if res.down_since else 0.0,
                }
                for name, res in self._resources.items()
            }

    # -- the loop of one resource ----------------------------------------------------------
    def _run(self, res: _Resource) -> None:
        delay = self.backoff[0]
        need_list = True
        while not self._stopping.is_set():
            try:
                if need_list:
                    self._list(res)
                    need_list = False
                    delay = self.backoff[0]
                    if res.unavailable:
                        self._stopping.wait(self.forbidden_retry)
                        need_list = True
                        continue
                if not res.can_watch:
                    self._stopping.wait(self.poll_interval)
                    need_list = True
                    continue
                applied = self._watch(res)
                if applied:
                    delay = self.backoff[0]
                if not self._stopping.is_set():
                    with self._lock:
                        self.counters.watch_restarts += 1
            except WatchGone:
                need_list = True
                log.info(
                    "watch of %s in %s: resourceVersion gone, listing again",
                    res.spec.resource,
                    self.env.namespace,
                )
            except ClusterError as exc:
                if self._stopping.is_set():
                    break
                self._failed(res, exc)
                if isinstance(exc, ClusterForbidden) and res.listed and not need_list:
                    res.can_watch = False  # may list, may not watch: poll instead
                    log.warning("%s; listing every %.0f s instead", exc, self.poll_interval)
                    continue
                self._stopping.wait(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff[1])
                if not need_list:
                    with self._lock:
                        self.counters.watch_restarts += 1
            except Exception:  # a bug must not end the watch silently: log, back off, go on
                if self._stopping.is_set():
                    break
                log.exception("watch of %s in %s failed", res.spec.resource, self.env.namespace)
                with self._lock:
                    self.counters.errors += 1
                self._stopping.wait(delay)
                delay = min(delay * 2, self.backoff[1])
                need_list = True

    def _failed(self, res: _Resource, exc: ClusterError) -> None:
        with self._lock:
            self.counters.errors += 1
            res.error = exc
            if res.down_since is None:
                res.down_since = time.monotonic()
        if isinstance(exc, ClusterUnreachable | ClusterUnauthorized):
            log.warning("watch of %s in %s: %s", res.spec.resource, self.env.namespace, exc)

    def _what(self, verb: str, spec: ListSpec) -> str:
        where = f" in namespace {self.env.namespace}" if spec.namespaced else " (cluster-wide)"
        return f"{verb} {spec.resource}{where}"

    def _query(self, spec: ListSpec) -> list[tuple[str, str]]:
        return [("labelSelector", self.env.selector)] if spec.selector and self.env.selector else []

    def _list(self, res: _Resource) -> None:
        spec = res.spec
        try:
            data = self.client.request(
                "GET", spec.path(self.env.namespace), query=self._query(spec), what=self._what("list", spec)
            )
        except ClusterForbidden as exc:
            if not spec.optional:
                raise
            changes = self._replace(res, {}, "", unavailable=str(exc))
        else:
            items = {_key(obj): obj for obj in data.get("items") or []}
            rv = str((data.get("metadata") or {}).get("resourceVersion") or "")
            changes = self._replace(res, items, rv, unavailable="")
        self._notify(spec.field, changes)
        self._check_synced()

    def _replace(
        self, res: _Resource, items: dict[str, Obj], rv: str, *, unavailable: str
    ) -> list[tuple[str, Obj]]:
        """A fresh list replaces memory; what differs is reported as the events a watch would have."""
        with self._lock:
            self.counters.lists += 1
            if res.listed:
                self.counters.relists += 1
            old = res.objects
            changes: list[tuple[str, Obj]] = [
                ("DELETED", obj) for key, obj in old.items() if key not in items
            ]
            for key, obj in items.items():
                before = old.get(key)
                if before is None:
                    changes.append(("ADDED", obj))
                elif _rv(before) != _rv(obj):
                    changes.append(("MODIFIED", obj))
            res.objects, res.resource_version, res.unavailable = items, rv, unavailable
            res.listed, res.error, res.down_since = True, None, None
            if changes:
                res.cached = None
            if items and res.spec.namespaced:
                self._namespace_missing = False
            self.counters.events_applied += len(changes)
        return changes

    def _watch(self, res: _Resource) -> int:
        """One watch request, from the last resourceVersion, until it ends; the events applied."""
        spec = res.spec
        timeout = max(1, int(self.timeout_seconds * random.uniform(0.8, 1.0)))
        query = [
            *self._query(spec),
            ("watch", "1"),
            ("resourceVersion", res.resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout)),
        ]
        response = self.client.open_stream(
            spec.path(self.env.namespace),
            query=query,
            read_timeout=timeout + 30.0,
            what=self._what("watch", spec),
            errors=_gone,
        )
        applied = 0
        with self._lock:
            res.response = response
            res.error, res.down_since = None, None
        try:
            if self._stopping.is_set():
                return 0
            for line in _lines(response):
                if not line.strip():
                    continue
                event = json.loads(line)
                applied += self._apply(res, event)
                if self._stopping.is_set():
                    break
        except (OSError, ValueError, HTTPError) as exc:  # a dropped or cut connection, a torn line
            if not self._stopping.is_set():
                raise ClusterUnreachable(
                    f"the watch of {spec.resource} at {self.client.server} broke off: {exc}"
                ) from None
        finally:
            with self._lock:
                res.response = None
            response.close()  # the stream may be unread: never hand its connection back for reuse
            response.release_conn()
        with self._lock:
            res.error = None
        return applied

    def _apply(self, res: _Resource, event: dict[str, Any]) -> int:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code") or 0)
            if code == 410:
                raise WatchGone(f"watch of {res.spec.resource}: {obj.get('message', 'gone')} (410)")
            raise api_error(code or 500, json.dumps(obj), self._what("watch", res.spec), self.client)
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind == "BOOKMARK":
            with self._lock:
                res.resource_version = rv or res.resource_version
            return 0
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            log.warning("watch of %s: unknown event type %r", res.spec.resource, kind)
            return 0
        if res.spec.group in BUILTIN_GROUPS:  # list items of built-in types carry no kind/apiVersion
            obj = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        key = _key(obj)
        with self._lock:
            if kind == "DELETED":
                res.objects.pop(key, None)
            else:
                res.objects[key] = obj
                if res.spec.namespaced:
                    self._namespace_missing = False
            res.resource_version = rv or res.resource_version
            res.cached = None
            self.counters.events_applied += 1
        self._notify(res.spec.field, [(kind, obj)])
        return 1

    def _notify(self, kind: str, changes: list[tuple[str, Obj]]) -> None:
        if not changes:
            return
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            for event_type, obj in changes:
                try:
                    callback(kind, event_type, obj)
                except Exception:
                    log.exception("on_change callback failed for %s %s", event_type, kind)

    def _check_synced(self) -> None:
        with self._lock:
            if self._synced.is_set() or not all(r.listed for r in self._resources.values()):
                return
            empty = not any(r.objects for r in self._resources.values() if r.spec.namespaced)
        if empty and not self._stopping.is_set():
            try:
                missing = namespace_missing(self.client, self.env.namespace)
            except ClusterError:
                missing = False
            with self._lock:
                self._namespace_missing = missing and not any(
                    r.objects for r in self._resources.values() if r.spec.namespaced
                )
        self._synced.set()


def _lines(response: Any) -> Iterator[bytes]:
    """One watch event per line, as the chunks arrive (`stream(amt=None)` reads chunk by chunk)."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from lines
    if buffer.strip():
        yield buffer


def _shutdown(response: Any) -> None:
    """Unblock a thread reading this stream (what `Watch.stop()` does): shut the socket down."""
    import socket

    try:
        sock = getattr(getattr(response, "connection", None), "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}")


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _order(obj: Obj) -> tuple[str, str]:
    """The order the API server lists in (etcd keys: namespace, then name)."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
