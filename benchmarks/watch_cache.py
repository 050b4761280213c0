"""The list+watch cache with 1,000 pods in a real API server (kube-local).

    python benchmarks/watch_cache.py --kubeconfig /tmp/kube-local/kubeconfig
    python benchmarks/watch_cache.py --kubeconfig FILE --pods 1000 --events 1000 --steady 60

Loads the pods (with their status, written through /status), their Deployments, ReplicaSets
and events into a fresh namespace, starts a WatchCache on it and prints: time to sync, memory
the cache holds, snapshot() + diagnosis from the cache (median, unchanged and right after a
change), how long a status change takes to reach the cache, the same inspection through
fetch_snapshot for comparison, and the API calls made during --steady seconds of nothing
happening. Deletes what it created. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inspection import make_objects  # the 1,000-pod environment of benchmarks/inspection.py

from bot.adapters.kube import KubeClient, fetch_snapshot
from bot.adapters.watch_cache import WatchCache
from bot.domain import diagnosis, releases
from bot.domain.environments import Environment
from bot.errors import ClusterNotFound

PATHS = {
    "pods": "/api/v1",
    "events": "/api/v1",
    "deployments": "/apis/apps/v1",
    "replicasets": "/apis/apps/v1",
}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load(admin: KubeClient, namespace: str, objects: dict[str, list[dict[str, Any]]]) -> None:
    admin.request("POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})

    def create(kind: str, obj: dict[str, Any]) -> None:
        body = {k: v for k, v in obj.items() if k != "status"}
        body["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
        base = f"{PATHS[kind]}/namespaces/{namespace}/{kind}"
        admin.request("POST", base, body=body)
        if "status" in obj and kind in ("pods", "deployments"):
            admin.request(
                "PATCH",
                f"{base}/{obj['metadata']['name']}/status",
                body={"status": obj["status"]},
                content_type="application/merge-patch+json",
            )

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        for kind, items in objects.items():
            list(pool.map(lambda o, k=kind: create(k, o), items))
    total = sum(map(len, objects.values()))
    print(f"loaded {total} objects (pods with status) in {time.perf_counter() - start:.0f} s")


def cleanup(admin: KubeClient, namespace: str) -> None:
    """No kubelet confirms a pod's end and no namespace controller runs: delete at once, then
    clear the namespace's finalizer (its finalize subresource) so it does not stay Terminating."""
    for kind in ("pods", "events", "replicasets", "deployments"):
        admin.request(
            "DELETE", f"{PATHS[kind]}/namespaces/{namespace}/{kind}", query=(("gracePeriodSeconds", "0"),)
        )
    admin.request("DELETE", f"/api/v1/namespaces/{namespace}")
    try:
        body = admin.request("GET", f"/api/v1/namespaces/{namespace}")
    except ClusterNotFound:  # a namespace controller finished it already
        return
    body["spec"]["finalizers"] = []
    admin.request("PUT", f"/api/v1/namespaces/{namespace}/finalize", body=body)


def inspect_ms(cache: WatchCache) -> tuple[float, float]:
    """(snapshot() alone, snapshot() + release orders + diagnosis), in ms."""
    start = time.perf_counter()
    snapshot = cache.snapshot()
    taken = time.perf_counter()
    diagnosis.diagnose(snapshot, releases.release_orders(snapshot))
    return (taken - start) * 1000, (time.perf_counter() - start) * 1000


def medians(times: list[tuple[float, float]]) -> str:
    alone, total = (statistics.median(t[i] for t in times) for i in (0, 1))
    return f"{alone:.1f} ms snapshot(), {total:.0f} ms with diagnosis"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", required=True, help="admin kubeconfig of a test API server")
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--steady", type=float, default=60.0, help="seconds of steady state to count calls")
    args = parser.parse_args()

    namespace = f"bench-watch-{uuid.uuid4().hex[:6]}"
    admin = KubeClient.connect(kubeconfig=args.kubeconfig)
    objects = make_objects(namespace, args.pods, args.events)
    try:
        load(admin, namespace, objects)
        client = KubeClient.connect(kubeconfig=args.kubeconfig)
        env = Environment(name="bench", namespace=namespace)
        cache = WatchCache(client, env)

        rss_before = rss_mb()
        tracemalloc.start()
        start = time.perf_counter()
        cache.start()
        cache.wait_synced(120)
        synced_s = time.perf_counter() - start
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"synced in {synced_s * 1000:.0f} ms (under tracemalloc) with {client.calls} API calls;"
            f" the cache holds {held / 1e6:.1f} MB (tracemalloc), RSS +{rss_mb() - rss_before:.0f} MB"
        )
        snapshot = cache.snapshot()
        print(f"snapshot: {len(snapshot.pods)} pods, {len(snapshot.events)} events, {snapshot.unavailable=}")

        calls = client.calls
        unchanged = [inspect_ms(cache) for _ in range(args.rounds)]
        after_change, latency = [], []
        pods = objects["pods"]
        for i in range(args.rounds):
            applied = cache.counters.events_applied
            name = pods[i % len(pods)]["metadata"]["name"]
            sent = time.perf_counter()
            admin.request(
                "PATCH",
                f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                body={"status": {"message": f"bench round {i}"}},
                content_type="application/merge-patch+json",
            )
            while cache.counters.events_applied == applied:
                time.sleep(0.001)
            latency.append((time.perf_counter() - sent) * 1000)
            after_change.append(inspect_ms(cache))
        print(
            f"from the cache, median: unchanged {medians(unchanged)}; right after a change"
            f" {medians(after_change)};"
            f" {client.calls - calls} API calls for {2 * args.rounds} inspections"
        )
        print(f"a status patch reaches the cache in median {statistics.median(latency):.1f} ms")

        fetched = []
        for _ in range(3):
            start = time.perf_counter()
            listed = asyncio.run(fetch_snapshot(client, env))
            diagnosis.diagnose(listed, releases.release_orders(listed))
            fetched.append((time.perf_counter() - start) * 1000)
        print(f"for comparison, fetch_snapshot + diagnosis: median {statistics.median(fetched):.0f} ms")

        calls, counters = client.calls, (cache.counters.watch_restarts, cache.counters.relists)
        time.sleep(args.steady)
        print(
            f"steady state, {args.steady:.0f} s: {client.calls - calls} API calls,"
            f" {cache.counters.watch_restarts - counters[0]} watch restarts,"
            f" {cache.counters.relists - counters[1]} relists; counters {cache.counters}"
        )
        start = time.perf_counter()
        stopped = cache.stop()
        print(f"stop(): all threads ended {stopped}, in {(time.perf_counter() - start) * 1000:.0f} ms")
        client.close()
    finally:
        cleanup(admin, namespace)
        admin.close()


if __name__ == "__main__":
    main()
