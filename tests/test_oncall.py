"""On call, end to end: kube-local changes, the on-call engine looks, the strict Slack server
receives one root message per incident, edits and thread replies; a restart continues the thread."""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.incident_store import IncidentStore
from bot.config import Settings
from bot.domain.environments import Config, Environment
from bot.domain.incidents import Policy
from bot.oncall import OnCall
from bot.slack.app import SlackPoster
from bot.slack.serve import make_runtime
from tests import k8s_objects as k
from tests.conftest import REPO
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.rbac import chart_rules
from tests.slack_harness import (  # noqa: F401 - slack_rejections_checked is an autouse fixture
    BOT_TOKEN,
    FakeSlack,
    LoopThread,
    slack_rejections_checked,
    start_fake_slack,
)
from tests.test_inspect_cli import load

CHANNEL = "C0ONCALL"


class Shift:
    """One deploybot process on call: its runtime, its engine, a clock the test moves."""

    def __init__(self, loop: LoopThread, fake: FakeSlack, env: Environment, data: Path) -> None:
        self.loop, self.env, self.now = loop, env, 1_000.0
        settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=data)
        self.runtime = make_runtime(settings, Config("test", {env.name: env}), bot_token=BOT_TOKEN)

        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.url + "/api/")
        self.engine = OnCall(
            config=self.runtime.config,
            kb=self.runtime.kb,
            store=IncidentStore(self.runtime.action_store.db),
            poster=SlackPoster(self.runtime, client),
            snapshot_of=self.runtime.snapshot,  # as serve does: the cache once watching, else a list
            clock=lambda: self.now,
        )

    def look(self, after: float = 0.0) -> list[str]:
        self.now += after
        posts = self.loop.run(self.engine.check(self.env))
        return [p.kind for p in posts]


@pytest.fixture
def on_call(cluster: Cluster, tmp_path: Path) -> Any:
    bot = kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    ns = cluster.namespace("oncall")
    namespaced, _ = chart_rules()
    cluster.grant(ns, "deploybot", namespaced)
    load(cluster, ns, [o for o in k.web_workload() if o["kind"] != "Pod"])  # the Deployment, no pods yet
    policy = Policy(debounce_seconds=60, resolve_after_seconds=300)
    env = Environment("shop-prod", ns, kubeconfig=bot, channel=CHANNEL, notify=policy)
    yield cluster, ns, loop, fake, env, tmp_path / "data"
    loop.stop()


def roots(fake: FakeSlack) -> list[dict[str, Any]]:
    return [
        m for m in fake.named("chat.postMessage") if m.get("channel") == CHANNEL and not m.get("thread_ts")
    ]


def test_a_crash_storm_is_one_message_then_edits_and_replies_and_a_restart_continues_the_thread(
    on_call: Any,
) -> None:
    cluster, ns, loop, fake, env, data = on_call
    shift = Shift(loop, fake, env, data)
    assert shift.look() == []  # healthy: nothing to say
    load(cluster, ns, k.crash_loop_pods(100))  # a storm: 100 pods crash-looping at once
    assert shift.look(after=15) == []  # debouncing
    assert shift.look(after=60) == ["open"]
    assert shift.look(after=15) == [] and shift.look(after=15) == []  # the same incident: quiet
    [root] = roots(fake)
    assert "CrashLoopBackOff" in json.dumps(root, ensure_ascii=False)
    assert "deploybot:act:restart" in json.dumps(root)  # the buttons come with it
    root_ts = next(
        ts for (c, ts), m in fake.messages.items() if c == CHANNEL and m.get("text") == root["text"]
    )

    shift.runtime.close()  # the pod restarts; only the shared state survives
    shift = Shift(loop, fake, env, data)
    load(cluster, ns, k.image_pull_pods(2))  # a new cause
    kinds = shift.look(after=15)
    assert kinds[0] == "update" and set(kinds[1:]) == {"reply"}
    assert len(roots(fake)) == 1  # no second root message after the restart
    replies = [m for m in fake.named("chat.postMessage") if m.get("thread_ts") == root_ts]
    assert any("new: [ImagePullFailed]" in json.dumps(m) for m in replies)
    assert fake.named("chat.update")[-1]["ts"] == root_ts


def test_healthy_again_resolves_the_incident_with_its_duration(on_call: Any) -> None:
    cluster, ns, loop, fake, env, data = on_call
    shift = Shift(loop, fake, env, data)
    pods = k.crash_loop_pods(2)
    load(cluster, ns, pods)
    shift.look()
    assert shift.look(after=60) == ["open"]
    for pod in pods:
        if pod["kind"] == "Pod":
            cluster.delete({**pod, "metadata": {**pod["metadata"], "namespace": ns}})
    assert shift.look(after=60) == ["update"]  # recovering: said in place, not in the thread
    assert shift.look(after=120) == []
    assert shift.look(after=200) == ["resolve"]
    update = fake.named("chat.update")[-1]
    assert "resolved" in json.dumps(update, ensure_ascii=False)
    assert "resolved: healthy again after 1m" in json.dumps(fake.named("chat.postMessage")[-1])
    stored = IncidentStore(shift.runtime.action_store.db).load("shop-prod")
    assert stored is not None and stored.status == "resolved"


def test_serve_watches_environments_with_a_channel(on_call: Any, tmp_path: Path) -> None:
    """`deploybot serve` as deployed: a channel in deploybot.yaml is enough to be on call."""
    from tests.slack_harness import SIGNING_SECRET
    from tests.socket_mode_server import ServeProcess

    cluster, ns, _, fake, env, _ = on_call
    load(cluster, ns, k.crash_loop_pods(2))
    config = (
        "environments:\n"
        f"  shop-prod: {{namespace: {ns}, kubeconfig: {env.kubeconfig}, channel: {CHANNEL},"
        " notify: {debounce_seconds: 0}}\n"
    )
    env_vars = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.url + "/api/",
    }
    serve = ServeProcess.start(tmp_path / "serve", env_vars, config)
    try:
        serve.wait_ready()
        [root] = fake.wait_for("chat.postMessage", 1)
        assert root["channel"] == CHANNEL and "CrashLoopBackOff" in json.dumps(root, ensure_ascii=False)
        assert "on-call: watching shop-prod" in serve.output()
    finally:
        serve.process.terminate()
        serve.wait_exit(30)


def test_inspections_in_serve_come_from_the_watch_cache(on_call: Any) -> None:
    """After the cache has synced, an inspection (and so every on-call look) makes no API call."""
    cluster, ns, loop, fake, env, data = on_call
    load(cluster, ns, k.crash_loop_pods(2))
    shift = Shift(loop, fake, env, data)
    shift.runtime.watch()
    cache = shift.runtime.caches[env.name]
    assert cache.wait_synced(15)
    client = shift.runtime.client_for(env)
    before, deadline = -1, time.monotonic() + 10
    while client.calls != before and time.monotonic() < deadline:  # the watches open just after the lists
        before = client.calls
        time.sleep(0.5)
    message = loop.run(shift.runtime.inspect(env.name))
    assert "CrashLoopBackOff" in json.dumps(message, ensure_ascii=False)
    assert shift.look() == []  # an on-call look (pending) from the cache too
    assert client.calls == before
    shift.runtime.close()
    assert not any(t.is_alive() for t in cache._threads)


def test_acknowledge_and_mute_from_the_incident_message(on_call: Any) -> None:
    from tests.slack_harness import click_body, post, serve_runtime, signed_headers

    cluster, ns, loop, fake, env, data = on_call
    env = replace(env, protected=True, operators=("U0OPERATOR",))
    shift = Shift(loop, fake, env, data)
    url = serve_runtime(loop, fake, shift.runtime)
    load(cluster, ns, k.crash_loop_pods(2))
    shift.look()
    assert shift.look(after=60) == ["open"]
    [root] = roots(fake)
    root_ts = next(
        ts for (c, ts), m in fake.messages.items() if c == CHANNEL and m.get("text") == root["text"]
    )
    found = {
        e["action_id"]: e
        for b in json.loads(json.dumps(root["blocks"]))
        if b["type"] == "actions"
        for e in b["elements"]
    }
    ack, mute = found["deploybot:incident:ack"], found["deploybot:incident:mute"]

    def click(element: dict[str, Any], user: str) -> None:
        body = click_body(user=user, action_id=element["action_id"], value=element["value"],
                          response_url=fake.url + "/response/oncall", message_ts=root_ts)  # fmt: skip
        payload = json.loads(urllib.parse.parse_qs(body)["payload"][0])
        payload["channel"]["id"] = payload["container"]["channel_id"] = CHANNEL  # clicked in the incident
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        assert post(url + "/slack/events", body, signed_headers(body)).status == 200

    posts = len(fake.named("chat.postMessage"))
    click(ack, "U0ONCALLER")
    reply = fake.wait_for("chat.postMessage", posts + 1)[-1]
    assert (reply["channel"], reply["thread_ts"]) == (CHANNEL, root_ts)
    assert "<@U0ONCALLER> is on it" in json.dumps(reply)
    store = IncidentStore(shift.runtime.action_store.db)
    assert store.load("shop-prod").acknowledged_by == "U0ONCALLER"  # type: ignore[union-attr]

    ephemerals = len(fake.named("chat.postEphemeral"))
    click(mute, "U0STRANGER")  # a protected environment: only its operators mute it
    refusal = fake.wait_for("chat.postEphemeral", ephemerals + 1)[-1]
    assert "may not mute" in refusal["text"] and "<@U0OPERATOR>" in refusal["text"]
    posts = len(fake.named("chat.postMessage"))
    click(mute, "U0OPERATOR")
    assert "muted shop-prod for 1h" in json.dumps(fake.wait_for("chat.postMessage", posts + 1)[-1])
    load(cluster, ns, k.image_pull_pods(2))  # a new cause while muted: edited in place, no reply
    assert shift.look(after=15) == ["update"]
    audit = {(r.action, r.outcome) for r in shift.runtime.action_store.recent("shop-prod")}
    assert {("acknowledge", "done"), ("mute", "refused"), ("mute", "done")} <= audit
    # an action taken from the incident's message is told in the incident's thread, not the channel
    shift.runtime.settle_seconds = 0.5
    posts = len(fake.named("chat.postMessage"))
    click(found["deploybot:act:restart"], "U0OPERATOR")
    fake.wait_for("chat.postMessage", posts + 2)
    result, details = fake.named("chat.postMessage")[posts : posts + 2]
    assert "restart Deployment/shop-web" in json.dumps(result)
    assert result["thread_ts"] == details["thread_ts"] == root_ts and not result.get("reply_broadcast")


def test_with_two_replicas_only_the_lease_holder_posts(on_call: Any, cluster: Cluster) -> None:
    import asyncio

    from bot.adapters.lease import LeaseElector
    from tests.test_lease import chart_lease_rules

    _, ns, loop, fake, env, data = on_call
    env = replace(env, notify=Policy(debounce_seconds=0))
    cluster.grant(ns, "deploybot", chart_lease_rules())
    load(cluster, ns, k.crash_loop_pods(2))
    replicas = [Shift(loop, fake, env, data.parent / f"replica-{n}") for n in range(2)]
    for n, replica in enumerate(replicas):
        client = replica.runtime.client_for(env)
        replica.engine.leader = LeaseElector(client, ns, f"deploybot-{n}").try_acquire
        replica.engine.interval = 0.2

    async def both_on_call_for_a_while() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.engine.run(stop)) for r in replicas]
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*tasks)

    loop.run(both_on_call_for_a_while())
    assert len(roots(fake)) == 1


def test_after_a_leader_failover_the_new_leader_continues_the_same_thread(
    on_call: Any, cluster: Cluster
) -> None:
    """Replica a opens the incident and dies; b may lead only once a's Lease has expired, and then
    edits a's root message and replies in its thread (the incident is in the shared store)."""
    from datetime import UTC, datetime, timedelta

    from bot.adapters.lease import LeaseElector
    from tests.test_lease import chart_lease_rules

    _, ns, loop, fake, env, data = on_call
    env = replace(env, notify=Policy(debounce_seconds=0))
    cluster.grant(ns, "deploybot", chart_lease_rules())
    start = datetime.now(UTC)
    a = Shift(loop, fake, env, data)
    assert LeaseElector(a.runtime.client_for(env), ns, "deploybot-a", duration=15).try_acquire(start)
    load(cluster, ns, k.crash_loop_pods(3))
    assert a.look() == ["open"]
    [root] = roots(fake)
    root_ts = next(
        ts for (c, ts), m in fake.messages.items() if c == CHANNEL and m.get("text") == root["text"]
    )
    a.runtime.close()  # its pod is gone; its Lease runs out

    b = Shift(loop, fake, env, data)
    elector = LeaseElector(b.runtime.client_for(env), ns, "deploybot-b", duration=15)
    assert not elector.try_acquire(start + timedelta(seconds=10))  # a's Lease is still live
    assert elector.try_acquire(start + timedelta(seconds=20))
    load(cluster, ns, k.image_pull_pods(2))
    kinds = b.look(after=20)
    assert kinds[0] == "update" and "reply" in kinds and "open" not in kinds
    assert len(roots(fake)) == 1
    assert fake.named("chat.update")[-1]["ts"] == root_ts
    assert any(
        m.get("thread_ts") == root_ts and "new: [ImagePullFailed]" in json.dumps(m)
        for m in fake.named("chat.postMessage")
    )


def test_a_watched_change_is_posted_in_seconds_not_at_the_next_round(on_call: Any) -> None:
    """With the watch cache telling the engine what changed, a crash is posted about `settle`
    after it is seen, although the round interval is 10 minutes."""
    import asyncio

    from bot.slack.serve import _look_sooner

    cluster, ns, loop, fake, env, data = on_call
    env = replace(env, notify=Policy(debounce_seconds=0))
    shift = Shift(loop, fake, env, data)
    shift.runtime.watch()
    cache = shift.runtime.caches[env.name]
    assert cache.wait_synced(15)
    shift.engine.clock, shift.engine.interval, shift.engine.settle = time.time, 600.0, 0.3
    cache.on_change(_look_sooner(shift.engine, env.name))
    stop = asyncio.Event()
    running = asyncio.run_coroutine_threadsafe(shift.engine.run(stop), loop.loop)
    try:
        time.sleep(1.0)  # the first round: healthy, nothing posted
        assert roots(fake) == []
        changed_at = time.monotonic()
        load(cluster, ns, k.crash_loop_pods(2))
        [root] = fake.wait_for("chat.postMessage", 1, timeout=10)
        took = time.monotonic() - changed_at
        assert root["channel"] == CHANNEL and "CrashLoopBackOff" in json.dumps(root, ensure_ascii=False)
        assert took < 10, took  # a round would have been 600 s away
    finally:
        loop.loop.call_soon_threadsafe(stop.set)
        running.result(timeout=10)
        shift.runtime.close()


def test_a_release_order_paused_is_one_line_with_its_buttons(on_call: Any) -> None:
    cluster, ns, loop, fake, env, data = on_call
    shift = Shift(loop, fake, env, data)
    assert shift.look() == []  # the baseline: the order as it is now
    cluster.admin.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{ns}/deployments/shop-web",
        body={"spec": {"paused": True}},
        content_type="application/merge-patch+json",
    )
    assert shift.look(after=15) == ["notice"]
    [line] = roots(fake)
    assert "release order Deployment/shop-web paused" in json.dumps(line)
    buttons = {e["action_id"] for b in line["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert "deploybot:act:resume_order" in buttons and "deploybot:act:close_order" in buttons
