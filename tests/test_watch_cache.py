"""The list+watch cache against a real kube-apiserver: real lists, real watches, real 410s.

No kubelet or controller runs: the tests write objects and their status, the cache must see
what they wrote. Waits poll with a deadline; nothing asserts on how long something took.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import urllib3
import yaml

from bot.adapters.kube import KubeClient, fetch_snapshot
from bot.adapters.watch_cache import WatchCache
from bot.domain import diagnosis, releases
from bot.domain.environments import Environment
from bot.domain.snapshot import Snapshot
from bot.errors import ClusterUnreachable
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.test_inspect_cli import load
from tests.test_inspect_cluster import CLUSTER_CASES
from tests.test_kube_adapter import NAMESPACE_READ_RULES, fake_kubeconfig, pod

CRASH_CASE = next(
    c for c in CLUSTER_CASES if c.code == "CrashLoop" and all(o["kind"] != "Node" for o in c.build())
)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def names(snapshot: Snapshot, field: str = "pods") -> set[str]:
    return {o["metadata"]["name"] for o in getattr(snapshot, field)}


@pytest.fixture
def started() -> Iterator[Callable[..., WatchCache]]:
    caches: list[WatchCache] = []

    def start(client: KubeClient, namespace: str, selector: str = "", **options: Any) -> WatchCache:
        cache = WatchCache(
            client, Environment(name="shop", namespace=namespace, selector=selector), **options
        )
        caches.append(cache.start())
        assert cache.wait_synced(15), cache.status()
        return cache

    yield start
    for cache in caches:
        cache.stop()
        cache.client.close()


def test_create_modify_delete_are_seen_without_api_calls_and_stop_ends_the_threads(
    cluster: Cluster, started: Callable[..., WatchCache]
) -> None:
    ns = cluster.namespace()
    cluster.create(pod(ns, "web-0", {"app": "web"}))  # there before: from the list
    client = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    cache = started(client, ns, "app=web")
    seen: list[tuple[str, str, str]] = []
    cache.on_change(lambda kind, event, obj: seen.append((kind, event, obj["metadata"]["name"])))
    assert names(cache.snapshot()) == {"web-0"}

    web = pod(ns, "web-1", {"app": "web"})
    cluster.create(copy.deepcopy(web))
    cluster.create(pod(ns, "other", {"app": "other"}))  # outside the selector
    wait_for("web-1 in the snapshot", lambda: names(cache.snapshot()) == {"web-0", "web-1"})

    crash = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "web",
                "image": "registry.example.com/shop/web:v1.4.3",
                "imageID": "",
                "ready": False,
                "restartCount": 6,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
            }
        ],
    }
    cluster.set_status(web, crash)

    def restarts() -> int:
        found = [p for p in cache.snapshot().pods if p["metadata"]["name"] == "web-1"]
        statuses = (found[0]["status"].get("containerStatuses") if found else None) or [{}]
        return int(statuses[0].get("restartCount", 0))

    wait_for("web-1's new status in the snapshot", lambda: restarts() == 6)
    cluster.delete(web)
    wait_for("web-1 gone from the snapshot", lambda: names(cache.snapshot()) == {"web-0"})

    calls = client.calls
    snap = cache.snapshot()
    assert client.calls == calls  # from memory
    assert [p["metadata"]["name"] for p in snap.pods] == ["web-0"]
    assert "kind" not in snap.pods[0]  # the shape of a list item, also for objects that came by watch
    assert ("pods", "ADDED", "web-1") in seen and ("pods", "DELETED", "web-1") in seen
    assert ("pods", "MODIFIED", "web-1") in seen
    assert all(name != "other" for _, _, name in seen)
    assert cache.counters.events_applied >= 3 and cache.counters.relists == 0
    assert cache.stop(timeout=5)  # every thread ended, open watches included
    assert not [t for t in threading.enumerate() if t.name.startswith("watch-shop-")]


def test_snapshot_from_the_cache_diagnoses_like_fetch_snapshot(
    cluster: Cluster, started: Callable[..., WatchCache], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from tests import k8s_objects as k

    monkeypatch.setattr(k, "NOW", datetime.now(UTC).replace(microsecond=0))
    ns = cluster.namespace()
    client = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    cache = started(client, ns)  # empty at first: everything arrives by watch
    load(cluster, ns, copy.deepcopy(CRASH_CASE.build()))
    env = Environment(name="shop", namespace=ns)
    listed = asyncio.run(fetch_snapshot(client, env))

    def versions(snap: Snapshot) -> dict[str, list[tuple[str, str]]]:
        return {
            f: [(o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in getattr(snap, f)]
            for f in ("pods", "events", "deployments", "statefulsets", "replicasets", "services")
        }

    wait_for(
        "the cache to hold what the lists return", lambda: versions(cache.snapshot()) == versions(listed)
    )
    cached = cache.snapshot()
    for field in ("pods", "events", "deployments", "statefulsets", "replicasets"):
        assert list(getattr(cached, field)) == list(getattr(listed, field)), field  # same objects, same order

    def findings(snap: Snapshot) -> list[tuple[str, str, str]]:
        found = diagnosis.diagnose(snap, releases.release_orders(snap))
        return [
            (f.code, f.severity, f.title) for f in found if not all(o.startswith("Node/") for o in f.objects)
        ]

    assert findings(cached) == findings(listed)
    assert (CRASH_CASE.code, CRASH_CASE.severity, CRASH_CASE.title) in findings(cached)


class StaleWatchProxy(BaseHTTPRequestHandler):
    """Forwards every request to the real API server, except the first pods watch: before it, the
    namespace changes (one pod created, one deleted), and it is answered as the server answers a
    watch from an expired resourceVersion (`answer_gone`), so only a relist can see those changes."""

    protocol_version = "HTTP/1.1"
    upstream = ""
    pool: urllib3.PoolManager
    cluster: Cluster
    namespace = ""
    stale_sent = threading.Event()
    status_410 = False
    #: set: the API server is gone; every request on any connection is dropped unanswered
    down = threading.Event()

    def do_GET(self) -> None:
        if self.down.is_set():
            self.close_connection = True
            return
        url = urlsplit(self.path)
        query = parse_qsl(url.query)
        if ("watch", "1") in query and url.path.endswith("/pods") and not self.stale_sent.is_set():
            self.stale_sent.set()
            self.cluster.create(pod(self.namespace, "created-in-the-gap", {"app": "web"}))
            self.cluster.delete(pod(self.namespace, "deleted-in-the-gap", {}))
            self.answer_gone(url.path, query)
            return
        upstream = self.pool.request(
            "GET",
            f"{self.upstream}{url.path}?{urlencode(query)}",
            headers={"Authorization": self.headers["Authorization"], "Accept": "application/json"},
            preload_content=False,
            timeout=urllib3.Timeout(connect=3, read=60),
        )
        self.send_response(upstream.status)
        self.send_header("Content-Type", upstream.headers.get("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in upstream.stream(amt=None):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the cache hung up (stop)
            pass
        finally:
            upstream.release_conn()

    def answer_gone(self, path: str, query: list[tuple[str, str]]) -> None:
        """What the API server answers a watch from a compacted resourceVersion: a 200 watch whose
        only event is ERROR with a 410 Status (or, with `status_410`, HTTP 410 and that Status).

        Resuming from resourceVersion 1 gets exactly this from a real server once etcd has been
        compacted (every 5 minutes), which a fresh kube-local has not been yet: the Status is the
        server's own shape, with the server's current resourceVersion in its message."""
        current = json.loads(
            self.pool.request(
                "GET",
                f"{self.upstream}{path}?{urlencode([(k, v) for k, v in query if k == 'labelSelector'])}",
                headers={"Authorization": self.headers["Authorization"], "Accept": "application/json"},
                timeout=urllib3.Timeout(connect=3, read=30),
            ).data
        )["metadata"]["resourceVersion"]
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"too old resource version: 1 ({current})",
            "reason": "Expired",
            "code": 410,
        }
        if self.status_410:
            body = json.dumps(status).encode()
            self.send_response(410)
        else:
            body = json.dumps({"type": "ERROR", "object": status}).encode() + b"\n"
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy(cluster: Cluster, tmp_path: Path) -> Iterator[Callable[..., tuple[ThreadingHTTPServer, str]]]:
    """A StaleWatchProxy in front of kube-local and a kubeconfig (the admin's token) that points at it."""
    servers: list[ThreadingHTTPServer] = []
    admin = yaml.safe_load(Path(kubeconfig_or_skip()).read_text())
    ca = Path(admin["clusters"][0]["cluster"]["certificate-authority"])
    ca = ca if ca.is_absolute() else Path(kubeconfig_or_skip()).parent / ca

    def start(
        namespace: str, *, stale: bool = True, status_410: bool = False
    ) -> tuple[ThreadingHTTPServer, str]:
        attributes: dict[str, Any] = {
            "upstream": admin["clusters"][0]["cluster"]["server"],
            "pool": urllib3.PoolManager(ca_certs=str(ca)),
            "cluster": cluster,
            "namespace": namespace,
            "stale_sent": threading.Event(),
            "status_410": status_410,
            "down": threading.Event(),
        }
        if not stale:
            attributes["stale_sent"].set()  # already "sent": no stale watch
        server = ThreadingHTTPServer(("127.0.0.1", 0), type("Proxy", (StaleWatchProxy,), attributes))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        path = fake_kubeconfig(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
        config = yaml.safe_load(Path(path).read_text())
        config["users"][0]["user"] = admin["users"][0]["user"]
        Path(path).write_text(yaml.safe_dump(config))
        return server, path

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status_410", [False, True], ids=["error-event", "http-410"])
def test_a_410_gone_relists_and_the_cache_is_still_right(
    cluster: Cluster, started: Callable[..., WatchCache], proxy: Callable[..., Any], status_410: bool
) -> None:
    ns = cluster.namespace()
    cluster.create(pod(ns, "deleted-in-the-gap", {"app": "web"}))
    cluster.create(pod(ns, "stays", {"app": "web"}))
    _, kubeconfig = proxy(ns, status_410=status_410)
    cache = started(KubeClient.connect(kubeconfig=kubeconfig), ns)
    wait_for("a relist after the 410", lambda: cache.counters.relists >= 1)
    wait_for("the gap's changes", lambda: names(cache.snapshot()) == {"stays", "created-in-the-gap"})
    cluster.create(pod(ns, "after", {"app": "web"}))  # and the watch goes on from the relist
    wait_for("a pod after the relist", lambda: "after" in names(cache.snapshot()))
    assert names(cache.snapshot()) == {"stays", "created-in-the-gap", "after"}
    assert cache.stop(timeout=5)


def test_an_api_server_gone_for_too_long_is_an_error_not_old_data(
    cluster: Cluster, started: Callable[..., WatchCache], proxy: Callable[..., Any]
) -> None:
    ns = cluster.namespace()
    cluster.create(pod(ns, "web-1", {"app": "web"}))
    server, kubeconfig = proxy(ns, stale=False)
    cache = started(KubeClient.connect(kubeconfig=kubeconfig), ns, timeout_seconds=1, stale_after=0.5)
    assert names(cache.snapshot()) == {"web-1"}
    server.RequestHandlerClass.down.set()  # the watches end within a second

    def refused() -> bool:
        try:
            cache.snapshot()
        except ClusterUnreachable as exc:
            return "has not been able to follow" in str(exc)
        return False

    wait_for("snapshot() to refuse stale data", refused)
    assert cache.counters.errors > 0
    assert cache.stop(timeout=5)


def test_without_watch_or_node_rights_it_polls_and_says_nodes_are_unavailable(
    cluster: Cluster, started: Callable[..., WatchCache]
) -> None:
    ns = cluster.namespace()
    cluster.create(pod(ns, "web-1", {"app": "web"}))
    cluster.grant(ns, "deploybot", NAMESPACE_READ_RULES)  # list only: no watch, no nodes
    bot = KubeClient.connect(kubeconfig=kubeconfig_or_skip(BOT_KUBECONFIG_VAR))
    cache = started(bot, ns, poll_interval=0.3, forbidden_retry=60)
    snap = cache.snapshot()
    assert names(snap) == {"web-1"}
    assert set(snap.unavailable) == {"nodes"} and "list nodes (cluster-wide)" in snap.unavailable["nodes"]
    wait_for(
        "the watch refused", lambda: not cache.status()["pods"]["watching"] and cache.counters.relists > 0
    )
    cluster.create(pod(ns, "web-2", {"app": "web"}))
    wait_for("web-2 by polling", lambda: names(cache.snapshot()) == {"web-1", "web-2"})
    assert cache.stop(timeout=5)


def test_a_watch_that_ends_resumes_from_its_resource_version_without_listing_again(
    cluster: Cluster, started: Callable[..., WatchCache]
) -> None:
    ns = cluster.namespace()
    client = KubeClient.connect(kubeconfig=kubeconfig_or_skip())
    cache = started(client, ns, timeout_seconds=1)  # the server ends every watch after a second
    resources = len(cache.status())
    added: list[str] = []
    cache.on_change(
        lambda kind, event, obj: added.append(obj["metadata"]["name"]) if event == "ADDED" else None
    )
    cluster.create(pod(ns, "web-1", {"app": "web"}))
    wait_for("every watch ended and reopened", lambda: cache.counters.watch_restarts >= 2 * resources)
    cluster.create(pod(ns, "web-2", {"app": "web"}))
    wait_for("both pods", lambda: names(cache.snapshot()) == {"web-1", "web-2"})
    assert added.count("web-1") == 1  # a watch from "now" (no resourceVersion) would replay it as ADDED
    assert cache.counters.lists == resources and cache.counters.relists == 0  # resumed, never relisted
    assert cache.counters.errors == 0
