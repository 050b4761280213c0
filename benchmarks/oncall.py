"""On call against kube-local: detection latency, messages per incident, steady API calls, memory.

    python benchmarks/oncall.py --kubeconfig /tmp/kube-local/kubeconfig [--envs 3] [--pods 1000]
        [--incidents 10] [--interval 15] [--settle 1.0] [--steady 60] [--storm 100]

Each environment gets `--pods` healthy pods; serve's pieces run for real, wired as `serve` wires
them (watch caches whose changes make the engine look sooner, the incident engine with debounce
0, a local Slack Web API server). Detection latency is measured from the moment a pod's status is
patched to crash-looping until the channel receives the root message, `--incidents` times: the
watch delay plus `--settle` plus one look, not the round `--interval`. Then a storm: `--storm`
pods crash at once in one environment, and the messages it produced are counted. Memory is the
process's resident set (VmRSS) before the caches start and after they synced. Numbers are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.incident_store import IncidentStore
from bot.adapters.kube import KubeClient
from bot.config import Settings
from bot.domain.environments import Config, Environment
from bot.domain.incidents import Policy
from bot.inspection import diagnose_snapshot
from bot.oncall import OnCall
from bot.slack.app import SlackPoster
from bot.slack.serve import _look_sooner, make_runtime
from tests import k8s_objects as k
from tests.slack_harness import BOT_TOKEN, LoopThread, start_fake_slack

REPO = Path(__file__).resolve().parent.parent


def create(admin: KubeClient, ns: str, obj: dict[str, Any]) -> None:
    obj = {**obj, "metadata": {**obj["metadata"], "namespace": ns}}
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        obj["metadata"].pop(key, None)
    status = obj.pop("status", None)
    plural = {"Pod": "pods", "Deployment": "deployments", "ReplicaSet": "replicasets"}[obj["kind"]]
    base = "/api/v1" if obj["kind"] == "Pod" else "/apis/apps/v1"
    admin.request("POST", f"{base}/namespaces/{ns}/{plural}", body=obj, what=f"create {plural}")
    if status:
        name = obj["metadata"]["name"]
        admin.request(
            "PATCH", f"{base}/namespaces/{ns}/{plural}/{name}/status", body={"status": status},
            content_type="application/merge-patch+json", what="patch status",
        )  # fmt: skip


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def storm(admin: KubeClient, fake: Any, env: Environment, pods: int, duration: float) -> tuple[int, int, int]:
    """`pods` crash-looping pods at once, kept for `duration`: (posts, root posts, edits) it caused."""

    def channel(method: str) -> list[dict[str, Any]]:
        return [m for m in fake.named(method) if m.get("channel") == env.channel]

    posts_before, edits_before = len(channel("chat.postMessage")), len(channel("chat.update"))
    roots_before = len([m for m in channel("chat.postMessage") if not m.get("thread_ts")])
    for pod in k.crash_loop_pods(pods):
        if pod["kind"] == "Pod":
            create(admin, env.namespace, pod)
    time.sleep(duration)
    posts = channel("chat.postMessage")
    roots = len([m for m in posts if not m.get("thread_ts")]) - roots_before
    return len(posts) - posts_before, roots, len(channel("chat.update")) - edits_before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--envs", type=int, default=3)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=10)
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--steady", type=float, default=60.0)
    parser.add_argument("--storm", type=int, default=100)
    args = parser.parse_args()
    admin = KubeClient.connect(kubeconfig=args.kubeconfig)
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    envs = {}
    print(f"creating {args.envs} environments x {args.pods} pods ...", flush=True)
    for n in range(args.envs):
        ns = f"bench-oncall-{uuid.uuid4().hex[:6]}"
        admin.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": ns}}, what="create namespaces")  # fmt: skip
        for obj in k.web_workload():
            if obj["kind"] != "Pod":
                create(admin, ns, obj)
        for i in range(args.pods):
            create(admin, ns, k.web_pod(100 + i, status=k.pod_status(containers=[k.container_status()])))
        name = f"env-{n}"
        envs[name] = Environment(name, ns, kubeconfig=args.kubeconfig, channel=f"C0BENCH{n}",
                                 notify=Policy(debounce_seconds=0, resolve_after_seconds=0))  # fmt: skip
    rss_before = rss_mb()
    settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=Path(tempfile.mkdtemp()))
    runtime = make_runtime(settings, Config("bench", envs), bot_token=BOT_TOKEN)
    started = time.monotonic()
    runtime.watch()
    for cache in runtime.caches.values():
        cache.wait_synced(120)
    print(f"caches synced in {time.monotonic() - started:.1f} s")
    rss_after = rss_mb()
    looks = []
    for env in envs.values():
        for _ in range(5):
            began = time.perf_counter()
            diagnose_snapshot(runtime.caches[env.name].snapshot(), env, runtime.kb)
            looks.append(time.perf_counter() - began)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.url + "/api/")
    engine = OnCall(Config("bench", envs), runtime.kb, IncidentStore(runtime.action_store.db),
                    SlackPoster(runtime, client), runtime.snapshot, interval=args.interval,
                    settle=args.settle)  # fmt: skip
    for name, cache in runtime.caches.items():
        cache.on_change(_look_sooner(engine, name))  # as serve does

    stop_holder: dict[str, asyncio.Event] = {}

    async def start() -> None:
        stop_holder["stop"] = asyncio.Event()
        asyncio.get_running_loop().create_task(engine.run(stop_holder["stop"]))

    loop.run(start())
    time.sleep(3)  # the first round: everything healthy
    shared = runtime.client_for(next(iter(envs.values())))  # one kubeconfig: one client for all
    calls_before = shared.calls
    time.sleep(args.steady)
    steady = (shared.calls - calls_before) / (args.steady / 60)
    latencies = []
    first = next(iter(envs.values()))
    for n in range(args.incidents):
        before = len([m for m in fake.named("chat.postMessage") if m.get("channel") == first.channel])
        pod = k.web_pod(5000 + n, status=k.pod_status(containers=[k.container_status()]))
        create(admin, first.namespace, pod)
        time.sleep(args.settle + 2)
        crash = k.container_status(
            state=k.waiting("CrashLoopBackOff", "back-off 5m0s"),
            last_state=k.terminated(1),
            ready=False,
            restarts=9,
        )
        changed = time.monotonic()
        name = pod["metadata"]["name"]
        admin.request(
            "PATCH", f"/api/v1/namespaces/{first.namespace}/pods/{name}/status",
            body={"status": k.pod_status(containers=[crash])}, content_type="application/merge-patch+json",
            what="patch status",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            posted = [m for m in fake.named("chat.postMessage") if m.get("channel") == first.channel]
            if len(posted) > before:
                latencies.append(time.monotonic() - changed)
                break
            time.sleep(0.01)
        admin.request("DELETE", f"/api/v1/namespaces/{first.namespace}/pods/{name}", what="delete pods")
        time.sleep(args.settle + 3)  # resolved before the next one
    per_incident = len([m for m in fake.named("chat.postMessage") if m.get("channel") == first.channel])
    edits = len([m for m in fake.named("chat.update") if m.get("channel") == first.channel])
    storm_env = list(envs.values())[-1]
    storm_posts, storm_roots, storm_edits = storm(
        admin, fake, storm_env, args.storm, duration=args.interval * 4
    )
    loop.loop.call_soon_threadsafe(stop_holder["stop"].set)
    time.sleep(args.settle + 1)
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"one look (diagnosis from the cache) at {args.pods} pods: p50"
          f" {statistics.median(looks) * 1000:.0f} ms, max {max(looks) * 1000:.0f} ms")  # fmt: skip
    print(f"detection latency (status patch -> root message), interval {args.interval} s, settle"
          f" {args.settle} s, debounce 0:"
          f" p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s over {len(latencies)}")  # fmt: skip
    print(f"messages for {args.incidents} incidents: {per_incident} posts (root + thread), {edits} edits")
    print(f"storm of {args.storm} crash-looping pods for {args.interval * 4:.0f} s: {storm_roots} root"
          f" message, {storm_posts - storm_roots} thread replies, {storm_edits} edits")  # fmt: skip
    print(f"steady state: {steady:.1f} API calls/minute for {args.envs} environments (the watches idle)")
    print(
        f"memory: RSS {rss_before:.0f} MB before the caches, {rss_after:.0f} MB synced"
        f" (+{rss_after - rss_before:.0f} MB for {args.envs} x {args.pods} pods)"
    )
    runtime.close()


if __name__ == "__main__":
    main()
