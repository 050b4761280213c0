"""On call against kube-local: detection latency, messages per incident, steady API calls, memory.

    python benchmarks/oncall.py --kubeconfig /tmp/kube-local/kubeconfig [--envs 3] [--pods 1000]
        [--incidents 10] [--interval 1.0] [--steady 30]

Each environment gets `--pods` healthy pods; serve's pieces run for real (watch caches, the
incident engine with debounce 0, a local Slack Web API server). Detection latency is measured
from the moment a pod's status is patched to crash-looping until the channel receives the root
message, `--incidents` times; it is about the look interval plus the watch delay (the default
interval is 15 s; here `--interval`). Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
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
from bot.oncall import OnCall
from bot.slack.app import SlackPoster
from bot.slack.serve import make_runtime
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--envs", type=int, default=3)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--steady", type=float, default=30.0)
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
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=Path(tempfile.mkdtemp()))
    runtime = make_runtime(settings, Config("bench", envs), bot_token=BOT_TOKEN)
    started = time.monotonic()
    runtime.watch()
    for cache in runtime.caches.values():
        cache.wait_synced(120)
    print(f"caches synced in {time.monotonic() - started:.1f} s")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.url + "/api/")
    engine = OnCall(Config("bench", envs), runtime.kb, IncidentStore(runtime.action_store.db),
                    SlackPoster(runtime, client), runtime.snapshot, interval=args.interval)  # fmt: skip

    stop_holder: dict[str, asyncio.Event] = {}

    async def start() -> None:
        stop_holder["stop"] = asyncio.Event()
        asyncio.get_running_loop().create_task(engine.run(stop_holder["stop"]))

    loop.run(start())
    time.sleep(args.interval * 3)  # baseline looks
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
        time.sleep(args.interval * 2)
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
        time.sleep(args.interval * 3)  # resolved before the next one
    loop.loop.call_soon_threadsafe(stop_holder["stop"].set)
    time.sleep(args.interval + 1)
    per_incident = len([m for m in fake.named("chat.postMessage") if m.get("channel") == first.channel])
    edits = len([m for m in fake.named("chat.update") if m.get("channel") == first.channel])
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"detection latency (status patch -> root message), interval {args.interval} s, debounce 0:"
          f" p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s over {len(latencies)}")  # fmt: skip
    print(f"messages for {args.incidents} incidents: {per_incident} posts (root + thread), {edits} edits")
    print(f"steady state: {steady:.1f} API calls/minute for {args.envs} environments (the watches idle)")
    print(
        f"memory: max RSS +{(rss_after - rss_before) / 1024:.0f} MB"
        f" for {args.envs} x {args.pods} pods in the caches"
    )
    runtime.close()


if __name__ == "__main__":
    main()
