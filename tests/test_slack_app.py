"""The Slack app through its real HTTP interface, as Slack drives it.

Signed requests go to deploybot's own server on a local port; its Web API calls go to a local
Slack API server that records them (SLACK_API_URL); the cluster behind it is kube-local.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.environments import Config, Environment
from bot.slack.serve import make_runtime
from tests import k8s_objects as k
from tests.conftest import REPO, run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.rbac import chart_rules
from tests.slack_harness import (  # noqa: F401 - slack_rejections_checked is an autouse fixture
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    LoopThread,
    click_body,
    command_body,
    event_body,
    get,
    post,
    serve_app,
    serve_runtime,
    signed_headers,
    slack_rejections_checked,
    start_fake_slack,
)
from tests.test_inspect_cli import load
from tests.test_kube_adapter import SlowApi, fake_kubeconfig

OPERATOR, STRANGER = "U0OPERATOR", "U0STRANGER"


def shop_namespace(cluster: Cluster, prefix: str) -> str:
    """shop-web at revision 4 (revision 3 still there to roll back to), two pods crash-looping, and
    the bot's user granted exactly the chart's rules there: the namespace every Slack world uses."""
    ns = cluster.namespace(prefix)
    old = k.container(image=f"{k.REGISTRY}/web:v1.4.2")
    new = k.container(image=f"{k.REGISTRY}/web:v1.4.3")
    load(
        cluster,
        ns,
        [
            k.deployment(replicas=2, containers=[new], revision=4),
            k.replicaset("shop-web-7d9f8c6b5", containers=[old], revision=3, replicas=0),
            k.replicaset(
                "shop-web-5c8d7f9b4", template_hash="5c8d7f9b4", containers=[new], revision=4, replicas=2
            ),
            *k.crash_loop_pods(2),
        ],
    )
    namespaced, _ = chart_rules()
    cluster.grant(ns, "deploybot", namespaced)
    return ns


class SlackWorld:
    def __init__(self, cluster: Cluster, tmp: Path) -> None:
        self.cluster = cluster
        self.loop = LoopThread()
        self.fake, _ = start_fake_slack(self.loop)
        self.ns = shop_namespace(cluster, "slack")
        self.slow_server = ThreadingHTTPServer(("127.0.0.1", 0), SlowApi)
        threading.Thread(target=self.slow_server.serve_forever, daemon=True).start()
        slow_kubeconfig = fake_kubeconfig(tmp, f"http://127.0.0.1:{self.slow_server.server_address[1]}")
        bot = kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
        config = Config(
            "test",
            {
                "shop-prod": Environment(
                    "shop-prod", self.ns, protected=True, operators=(OPERATOR,), kubeconfig=bot
                ),
                "slow-env": Environment("slow-env", "slow", kubeconfig=slow_kubeconfig),
                "group-env": Environment(
                    "group-env", self.ns, protected=True, operators=("S0ONCALL",), kubeconfig=bot
                ),
            },
        )
        self.settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=tmp / "data")
        self.runtime = make_runtime(self.settings, config)
        self.runtime.settle_seconds = 1.0  # kube-local runs no controllers: nothing ever settles

        self.url = serve_runtime(self.loop, self.fake, self.runtime)
        self.responses = 0

    def response_url(self) -> tuple[str, str]:
        self.responses += 1
        return f"{self.fake.url}/response/{self.responses}", f"response/{self.responses}"

    def command(self, text: str, user: str = OPERATOR) -> tuple[Any, dict[str, Any]]:
        """The reply to a slash command: through its response_url (private answers), or posted to
        the channel (inspections and orders, so that their thread can follow up)."""
        url, method = self.response_url()
        posts = len(self.channel_posts())
        body = command_body(text, user=user, response_url=url)
        reply = post(self.url + "/slack/events", body, signed_headers(body))
        assert reply.status == 200, reply.body
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.fake.named(method):
                return reply, self.fake.named(method)[0]
            if len(self.channel_posts()) > posts:
                return reply, self.channel_posts()[posts]
            time.sleep(0.02)
        raise AssertionError(f"no reply to {text!r}: {[name for name, _ in self.fake.calls]}")

    def channel_posts(self) -> list[dict[str, Any]]:
        return [
            m
            for m in self.fake.named("chat.postMessage")
            if m.get("channel") == "C1" and not m.get("thread_ts")
        ]

    def event(self, event: dict[str, Any], *, retry: bool = False, event_id: str = "Ev1") -> Any:
        body = event_body(event, event_id=event_id)
        headers = signed_headers(body, content_type="application/json")
        if retry:
            headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        return post(self.url + "/slack/events", body, headers)

    def click(
        self, ref: str, action_id: str, user: str = OPERATOR, *, retry: bool = False
    ) -> tuple[Any, str]:
        url, method = self.response_url()
        body = click_body(user=user, action_id=action_id, value=ref, response_url=url)
        headers = signed_headers(body) | ({"X-Slack-Retry-Num": "1"} if retry else {})
        return post(self.url + "/slack/events", body, headers), method

    def web(self) -> dict[str, Any]:
        return self.cluster.admin.request("GET", f"/apis/apps/v1/namespaces/{self.ns}/deployments/shop-web")


@pytest.fixture(scope="module")
def world(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    w = SlackWorld(cluster, tmp_path_factory.mktemp("slack"))
    yield w
    w.slow_server.shutdown()
    w.loop.stop()


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """action id -> button element, from a posted message's blocks."""
    found = {}
    for block in message.get("blocks", []):
        if isinstance(block, str):
            block = json.loads(block)
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            found[element["action_id"]] = element
    return found


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    raw = message.get("blocks", [])
    return json.loads(raw) if isinstance(raw, str) else raw


def test_slash_ask_acks_at_once_and_answers_through_response_url(world: SlackWorld) -> None:
    reply, answer = world.command("ask 容器一直重启怎么办")
    assert reply.seconds < 3
    assert answer["response_type"] == "ephemeral"
    kinds = [b["type"] for b in blocks_of(answer)]
    assert kinds[0] == "header" and "actions" in kinds  # feedback buttons
    assert "deploybot:feedback_up" in buttons(answer)


def test_an_answer_shows_the_sentence_that_answers_when_it_is_not_in_the_summary(world: SlackWorld) -> None:
    _, answer = world.command("ask 每 1000m cpu 能跑几个 pod")
    text = json.dumps(answer, ensure_ascii=False)
    assert "依据 / from the entry:" in text and "1000m" in text


def test_bare_text_asks_and_off_topic_says_it_does_not_know(world: SlackWorld) -> None:
    _, answer = world.command("今天中午吃什么")
    assert "I don't know" in json.dumps(answer, ensure_ascii=False)


def test_inspection_has_findings_and_confirmed_buttons(world: SlackWorld) -> None:
    _, message = world.command("inspect shop-prod")
    assert message["channel"] == "C1" and not message.get("thread_ts")  # posted to the channel
    text = json.dumps(message, ensure_ascii=False)
    assert "CrashLoopBackOff" in text
    found = buttons(message)
    restart = found["deploybot:act:restart"]
    assert restart["value"].startswith("v1.")  # signed: any replica can verify it, nobody can edit it
    assert world.runtime.signer.verify(restart["value"], now=time.time())["target"] == "Deployment/shop-web"
    assert "restart Deployment/shop-web" in restart["confirm"]["text"]["text"]
    assert "confirm" not in found["deploybot:act:logs"]  # read-only: no dialog


def test_unknown_environment_suggests(world: SlackWorld) -> None:
    _, message = world.command("inspect shop-prd")
    assert "did you mean shop-prod" in json.dumps(message)


def test_click_by_operator_changes_the_cluster_and_updates_the_message(world: SlackWorld) -> None:
    _, message = world.command("inspect shop-prod")
    ref = buttons(message)["deploybot:act:restart"]["value"]
    reply, method = world.click(ref, "deploybot:act:restart")
    assert reply.status == 200 and reply.seconds < 3
    updated = world.fake.wait_for(method)[0]
    assert updated["replace_original"] is True
    assert f"<@{OPERATOR}> restart Deployment/shop-web" in json.dumps(updated)
    annotations = world.web()["spec"]["template"]["metadata"].get("annotations", {})
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_click_by_a_non_operator_is_refused_ephemerally(world: SlackWorld) -> None:
    _, message = world.command("inspect shop-prod")
    ref = buttons(message)["deploybot:act:restart"]["value"]
    before = world.web()["metadata"]["resourceVersion"]
    world.click(ref, "deploybot:act:restart", user=STRANGER)
    ephemeral = world.fake.wait_for("chat.postEphemeral")[-1]
    assert ephemeral["user"] == STRANGER and "may not restart" in ephemeral["text"]
    assert world.web()["metadata"]["resourceVersion"] == before


def test_operators_given_as_a_user_group(world: SlackWorld) -> None:
    _, message = world.command("inspect group-env")
    ref = buttons(message)["deploybot:act:restart"]["value"]
    count = len(world.fake.named("chat.postEphemeral"))
    world.click(ref, "deploybot:act:restart", user="U0OUTSIDER")
    assert "may not restart" in world.fake.wait_for("chat.postEphemeral", count + 1)[-1]["text"]
    _, method = world.click(ref, "deploybot:act:restart", user="U0GROUPIE")
    assert "<@U0GROUPIE> restart Deployment/shop-web" in json.dumps(world.fake.wait_for(method)[0])
    assert world.fake.named("usergroups.users.list")


def test_stale_click_is_refused(world: SlackWorld) -> None:
    _, message = world.command("inspect shop-prod")
    ref = buttons(message)["deploybot:act:restart"]["value"]
    world.cluster.admin.request(  # a new release starts after the message was posted
        "PATCH",
        f"/apis/apps/v1/namespaces/{world.ns}/deployments/shop-web",
        body={"spec": {"template": {"metadata": {"labels": {"app": "shop-web", "release": "next"}}}}},
        content_type="application/merge-patch+json",
    )
    count = len(world.fake.named("chat.postEphemeral"))
    world.click(ref, "deploybot:act:restart")
    ephemeral = world.fake.wait_for("chat.postEphemeral", count + 1)[-1]
    assert "changed since this message" in ephemeral["text"]


def test_a_retried_or_double_click_runs_once(world: SlackWorld) -> None:
    def restarts_done() -> int:
        rows = world.runtime.action_store.recent("shop-prod", 200)
        return sum(r.action == "restart" and r.outcome == "done" for r in rows)

    _, message = world.command("inspect shop-prod")
    ref = buttons(message)["deploybot:act:restart"]["value"]
    before, ephemerals = restarts_done(), len(world.fake.named("chat.postEphemeral"))
    _, method = world.click(ref, "deploybot:act:restart")
    world.fake.wait_for(method)
    world.click(ref, "deploybot:act:restart", retry=True)
    ephemeral = world.fake.wait_for("chat.postEphemeral", ephemerals + 1)[-1]
    assert f"already done by <@{OPERATOR}>" in ephemeral["text"]  # people as mentions
    assert restarts_done() == before + 1


def test_mention_inspects_in_the_thread_and_updates_in_place(world: SlackWorld) -> None:
    posts = len(world.fake.named("chat.postMessage"))
    world.event(
        {
            "type": "app_mention",
            "user": OPERATOR,
            "channel": "C9",
            "ts": "1700000100.000100",
            "text": "<@UBOT> 看看 shop-prod",
        },
        event_id="EvMention",
    )
    placeholder = world.fake.wait_for("chat.postMessage", posts + 1)[-1]
    assert placeholder["thread_ts"] == "1700000100.000100"
    update = world.fake.wait_for("chat.update")[-1]
    assert "shop-prod" in json.dumps(update) and "CrashLoop" in json.dumps(update, ensure_ascii=False)


def test_dm_follow_up_keeps_the_environment(world: SlackWorld) -> None:
    thread = "1700000200.000200"
    world.event(
        {
            "type": "message",
            "channel_type": "im",
            "user": OPERATOR,
            "channel": "D1",
            "ts": thread,
            "text": "shop-prod 状态怎么样",
        },
        event_id="EvDm1",
    )
    deadline = time.monotonic() + 15
    while not any(u.get("channel") == "D1" for u in world.fake.named("chat.update")):
        assert time.monotonic() < deadline, "the DM inspection never arrived"
        time.sleep(0.02)
    [placeholder] = [p for p in world.fake.named("chat.postMessage") if p.get("channel") == "D1"]
    assert not placeholder.get("thread_ts")  # a DM is answered in the DM, not in a thread
    updates = len(world.fake.named("chat.update"))
    world.event(
        {
            "type": "message",
            "channel_type": "im",
            "user": OPERATOR,
            "channel": "D1",
            "ts": "1700000201.000201",
            "thread_ts": thread,
            "text": "那怎么回滚?",
        },
        event_id="EvDm2",
    )
    proposal = world.fake.wait_for("chat.update", updates + 1)[-1]
    text = json.dumps(proposal)
    assert "roll back Deployment/shop-web" in text and "deploybot:act:rollback_order" in text


def test_retried_events_are_not_answered_twice(world: SlackWorld) -> None:
    posts = len(world.fake.named("chat.postMessage"))
    reply = world.event(
        {
            "type": "app_mention",
            "user": OPERATOR,
            "channel": "C9",
            "ts": "1700000300.000300",
            "text": "<@UBOT> OOMKilled",
        },
        retry=True,
        event_id="EvRetry",
    )
    assert reply.status == 200
    time.sleep(0.5)
    assert len(world.fake.named("chat.postMessage")) == posts


def test_slow_cluster_still_acks_within_three_seconds(world: SlackWorld) -> None:
    reply, message = world.command("inspect slow-env")  # 12 API calls of 0.4 s each behind it
    assert reply.seconds < 0.5  # the inspection behind it takes ~0.8 s: the ack did not wait for it
    assert "slow-env" in json.dumps(message)


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (lambda body: signed_headers(body, secret="wrong"), "bad signature"),
        (lambda body: signed_headers(body, timestamp=int(time.time()) - 600), "stale timestamp"),
        (lambda body: {"Content-Type": "application/x-www-form-urlencoded"}, "unsigned"),
    ],
)
def test_bad_or_stale_signatures_are_401(world: SlackWorld, headers: Any, why: str) -> None:
    body = command_body("ask OOMKilled", user=OPERATOR, response_url=world.fake.url + "/response/x")
    assert post(world.url + "/slack/events", body, headers(body)).status == 401, why


@pytest.mark.parametrize(
    "body", ["payload=%7Bnot-json", "payload=" + "x" * 10, '{"type": "event_callback"', ""]
)
def test_malformed_payloads_are_client_errors_and_the_server_survives(world: SlackWorld, body: str) -> None:
    reply = post(world.url + "/slack/events", body, signed_headers(body))
    assert 400 <= reply.status < 500
    assert "Traceback" not in reply.body
    assert get(world.url + "/healthz").status == 200


def test_rate_limited_calls_are_retried(world: SlackWorld) -> None:
    posts = len(world.fake.named("chat.postMessage"))
    world.fake.scripted["chat.postMessage"] = [
        (429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
    ]
    world.event(
        {
            "type": "app_mention",
            "user": OPERATOR,
            "channel": "C9",
            "ts": "1700000400.000400",
            "text": "<@UBOT> ImagePullBackOff 怎么办",
        },
        event_id="EvRate",
    )
    world.fake.wait_for("chat.postMessage", posts + 2)  # the 429, then the retry


def test_channel_not_found_is_logged_not_fatal(world: SlackWorld) -> None:
    world.fake.scripted["chat.postMessage"] = [(200, {}, {"ok": False, "error": "channel_not_found"})]
    world.event(
        {
            "type": "app_mention",
            "user": OPERATOR,
            "channel": "CGONE",
            "ts": "1700000500.000500",
            "text": "<@UBOT> CrashLoopBackOff",
        },
        event_id="EvGone",
    )
    time.sleep(0.5)
    _, answer = world.command("ask OOMKilled")
    assert answer and get(world.url + "/healthz").status == 200
    metrics = get(world.url + "/metrics").body
    assert 'deploybot_slack_errors_total{error="channel_not_found",method="chat.postMessage"} 1' in metrics


def test_every_topic_button_has_its_own_action_id_and_each_one_answers(world: SlackWorld) -> None:
    _, message = world.command("今天中午吃什么")  # not confident: the closest topics as buttons
    topics = [e for b in blocks_of(message) if b["type"] == "actions" for e in b["elements"]]
    ids = [e["action_id"] for e in topics]
    assert len(ids) >= 2 and len(set(ids)) == len(ids) and ids[1] == "deploybot:topic:2"
    reply, method = world.click(topics[1]["value"], ids[1])
    assert reply.status == 200
    answer = world.fake.wait_for(method)[0]
    assert answer["response_type"] == "ephemeral" and blocks_of(answer)[0]["type"] == "header"


def test_feedback_is_recorded(world: SlackWorld) -> None:
    _, answer = world.command("ask 节点 NotReady 怎么恢复")
    ref = buttons(answer)["deploybot:feedback_down"]["value"]
    world.click(ref, "deploybot:feedback_down")
    rows = world.runtime.slack_store.feedback_summary()
    assert any(r.votes_down == 1 for r in rows)
    assert any(not r.confident for r in rows)  # the lunch question was recorded as unanswered


def test_health_ready_and_metrics(world: SlackWorld) -> None:
    assert get(world.url + "/healthz").body == "ok"
    assert get(world.url + "/readyz").status == 200
    metrics = get(world.url + "/metrics").body
    assert 'deploybot_requests_total{kind="command"}' in metrics
    assert "deploybot_answers_total" in metrics and "deploybot_actions_total" in metrics


def test_serve_without_settings_fails_fast_naming_them(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_APP_TOKEN": "",
        "DEPLOYBOT_DATA_DIR": str(tmp_path),
    }
    done = run_cli("serve", env=env)
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in done.stderr and "SLACK_SIGNING_SECRET" in done.stderr


def test_fake_slack_records_calls(world: SlackWorld) -> None:
    assert isinstance(world.fake, FakeSlack) and world.fake.named("auth.test")


def test_manifest_declares_what_the_app_uses() -> None:
    import yaml

    manifest = yaml.safe_load((REPO / "slack-manifest.yaml").read_text())
    assert manifest["features"]["slash_commands"][0]["command"] == "/deploybot"
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_serve_as_a_process_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "deploybot.yaml"
    config.write_text("environments: {}\n")
    slack_loop = LoopThread()  # serve checks the bot token (auth.test) before it is ready
    fake, _ = start_fake_slack(slack_loop)
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake.url + "/api/",
        "SLACK_SIGNING_SECRET": "s",
        "PORT": str(port),
        "SLACK_APP_TOKEN": "",
        "DEPLOYBOT_DATA_DIR": str(tmp_path / "data"),
        "DEPLOYBOT_LOG_FORMAT": "json",
        "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
    }
    script = Path(sys.executable).with_name("deploybot")
    process = subprocess.Popen(
        [str(script), "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if get(f"http://127.0.0.1:{port}/readyz").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()[1]
            time.sleep(0.1)
        assert get(f"http://127.0.0.1:{port}/healthz").body == "ok"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    slack_loop.stop()
    assert BOT_TOKEN not in stderr
    entries = [json.loads(line) for line in stderr.strip().splitlines()]  # every line is JSON
    assert any("listening on" in e["message"] for e in entries)


def _sign_action(world: SlackWorld, action: str, **params: str) -> str:
    """A button as an inspection renders it (the same signer, the same payload)."""
    payload = {"kind": "action", "environment": "shop-prod", "action": action, "target": "shop-web",
               "params": params, "expected": None}  # fmt: skip
    return world.runtime.signer.sign(payload, now=time.time())


def _posted_after(world: SlackWorld, count: int) -> list[dict[str, Any]]:
    return world.fake.wait_for("chat.postMessage", count)[count - 2 :]


def test_after_a_change_one_line_in_the_channel_with_undo_and_details_in_its_thread(
    world: SlackWorld,
) -> None:
    replicas = world.web()["spec"]["replicas"]
    posts = len(world.fake.named("chat.postMessage"))
    _, method = world.click(_sign_action(world, "scale", replicas="0"), "deploybot:act:scale")
    updated = world.fake.wait_for(method)[0]
    assert updated["replace_original"] is True  # the message itself, re-inspected in place
    line, details = _posted_after(world, posts + 2)
    assert "thread_ts" not in line  # the result is in the channel
    assert f"<@{OPERATOR}> scale Deployment/shop-web from {replicas} to 0 replicas" in line["text"]
    assert "namespace" not in line["text"]  # one line: where and asides go to the thread
    restore = buttons(line)["deploybot:act:restore"]
    assert f"restore Deployment/shop-web from 0 to {replicas}" in restore["confirm"]["text"]["text"]
    line_ts = next(ts for (_, ts), m in world.fake.messages.items() if m.get("text") == line["text"])
    assert details["thread_ts"] == line_ts
    assert "remembering" in json.dumps(details) and "deploybot audit shop-prod" in json.dumps(details)
    assert world.web()["spec"]["replicas"] == 0
    # the undo works, and its own result offers to scale to 0 again
    posts = len(world.fake.named("chat.postMessage"))
    world.click(restore["value"], "deploybot:act:restore")
    line, _ = _posted_after(world, posts + 2)
    assert world.web()["spec"]["replicas"] == replicas
    assert f"restore Deployment/shop-web from 0 to {replicas}" in line["text"]
    assert "deploybot:act:scale" in buttons(line)


def test_a_change_without_an_undo_has_no_button(world: SlackWorld) -> None:
    posts = len(world.fake.named("chat.postMessage"))
    world.click(_sign_action(world, "restart"), "deploybot:act:restart")
    line, _ = _posted_after(world, posts + 2)
    assert "restart Deployment/shop-web" in line["text"] and buttons(line) == {}


def test_a_refusal_names_people_as_mentions(world: SlackWorld) -> None:
    count = len(world.fake.named("chat.postEphemeral"))
    world.click(_sign_action(world, "restart"), "deploybot:act:restart", user=STRANGER)
    refusal = world.fake.wait_for("chat.postEphemeral", count + 1)[-1]
    assert f"<@{STRANGER}> may not restart" in refusal["text"]
    assert f"operators are <@{OPERATOR}>" in refusal["text"]


def test_a_slash_inspection_is_posted_so_its_thread_knows_the_environment(world: SlackWorld) -> None:
    posts = len(world.fake.named("chat.postMessage"))
    url, _ = world.response_url()
    body = command_body("inspect shop-prod", user=OPERATOR, response_url=url)
    assert post(world.url + "/slack/events", body, signed_headers(body)).status == 200
    posted = world.fake.wait_for("chat.postMessage", posts + 1)[-1]
    assert posted["channel"] == "C1" and "CrashLoop" in json.dumps(posted, ensure_ascii=False)
    ts = next(
        ts for (c, ts), m in world.fake.messages.items() if c == "C1" and m.get("text") == posted["text"]
    )
    updates = len(world.fake.named("chat.update"))
    world.event(
        {"type": "app_mention", "user": OPERATOR, "channel": "C1", "ts": "1700000300.000300",
         "thread_ts": ts, "text": "<@UBOT> 那怎么回滚?"},
        event_id="EvSlashFollowUp",
    )  # fmt: skip
    proposal = world.fake.wait_for("chat.update", updates + 1)[-1]
    assert "deploybot:act:rollback_order" in json.dumps(proposal)
