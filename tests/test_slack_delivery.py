"""How replies reach Slack, through deploybot's real HTTP server and the strict local Slack:
refusals get a short fallback (logged as errors, counted in /metrics), big inspections go to a
thread, cluster text is escaped end to end, and bad HTTP input is a 4xx that logs no body.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.environments import Config, Environment
from bot.slack.serve import make_runtime
from tests import k8s_objects as k
from tests.conftest import REPO
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.rbac import chart_rules
from tests.slack_harness import (  # noqa: F401 - slack_rejections_checked is an autouse fixture
    BOT_TOKEN,
    SIGNING_SECRET,
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
from tests.test_kube_adapter import fake_kubeconfig

OPERATOR = "U0OPERATOR"
NASTY = "<!channel> <https://evil.example|click here> & <@U0BOSS>"


class Bot:
    """deploybot serving on a local port, talking to a strict local Slack."""

    def __init__(self, tmp: Path, environments: dict[str, Environment]) -> None:
        self.loop = LoopThread()
        self.fake, _ = start_fake_slack(self.loop)
        settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=tmp / "data")
        self.runtime = make_runtime(settings, Config("test", environments))

        self.url = serve_runtime(self.loop, self.fake, self.runtime)
        self.responses = 0

    def response_url(self) -> tuple[str, str]:
        self.responses += 1
        return f"{self.fake.url}/response/d{self.responses}", f"response/d{self.responses}"

    def command(self, text: str, user: str = OPERATOR) -> str:
        url, method = self.response_url()
        body = command_body(text, user=user, response_url=url)
        assert post(self.url + "/slack/events", body, signed_headers(body)).status == 200
        return method

    def mention(self, text: str, ts: str, event_id: str) -> None:
        event = {
            "type": "app_mention",
            "user": OPERATOR,
            "channel": "C9",
            "ts": ts,
            "text": f"<@UBOT> {text}",
        }
        body = event_body(event, event_id=event_id)
        assert (
            post(
                self.url + "/slack/events", body, signed_headers(body, content_type="application/json")
            ).status
            == 200
        )

    def click(self, element: dict[str, Any], message_ts: str, thread_ts: str | None = None) -> str:
        url, method = self.response_url()
        body = click_body(
            user=OPERATOR,
            action_id=element["action_id"],
            value=element["value"],
            response_url=url,
            message_ts=message_ts,
        )
        if thread_ts:  # a button in a thread reply: Slack sends the message's thread_ts along
            payload = json.loads(urllib.parse.parse_qs(body)["payload"][0])
            payload["message"]["thread_ts"] = thread_ts
            body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        assert post(self.url + "/slack/events", body, signed_headers(body)).status == 200
        return method

    def metrics(self) -> str:
        return get(self.url + "/metrics").body

    def stop(self) -> None:
        self.fake.settle()
        self.loop.stop()


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    raw = message.get("blocks") or []
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def action_elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in blocks_of(message) if b["type"] == "actions" for e in b["elements"]]


def mrkdwn(messages: list[dict[str, Any]]) -> str:
    """Every text Slack parses for mentions and links in these messages."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for m in messages:
        found.append(str(m.get("text", "")))
        walk(blocks_of(m))
    return "\n".join(found)


# ---------------------------------------------------------------- without a cluster


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    tmp = tmp_path_factory.mktemp("delivery")
    gone = Environment("gone-env", "shop", kubeconfig=fake_kubeconfig(tmp, "http://127.0.0.1:9"))
    b = Bot(tmp, {"gone-env": gone})
    yield b
    b.stop()


REFUSAL = {
    "ok": False,
    "error": "invalid_blocks",
    "errors": ["must be less than 3001 characters [json-pointer:/blocks/1/text/text]"],
    "response_metadata": {
        "messages": ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/1/text/text]"]
    },
}


def test_a_refused_update_replaces_the_placeholder_with_a_short_fallback(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.slack.app")
    bot.fake.scripted["chat.update"] = [(200, {}, REFUSAL)]  # Slack refusing, for a reason we do not model
    updates = len(bot.fake.named("chat.update"))
    bot.mention("看看 gone-env", "1700001000.000100", "EvRefusedUpdate")
    refused, fallback = bot.fake.wait_for("chat.update", updates + 2)[-2:]
    placeholder = bot.fake.named("chat.postMessage")[-1]
    assert placeholder["text"].startswith(":mag: gone-env")
    assert refused["ts"] == fallback["ts"] and "blocks" in refused
    assert "blocks" not in fallback and "attachments" not in fallback, "the fallback is plain text"
    assert fallback["text"].startswith(":warning: Slack could not show the full reply (invalid_blocks).")
    assert "cannot reach the Kubernetes API" in fallback["text"]  # the answer itself, shortened
    assert bot.fake.messages[("C9", fallback["ts"])]["text"] == fallback["text"]  # no :mag: left
    assert 'deploybot_slack_errors_total{error="invalid_blocks",method="chat.update"} 1' in bot.metrics()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "chat.update" in r.getMessage()]
    assert errors and "invalid_blocks" in errors[0].getMessage()
    assert "must be less than 3001 characters [json-pointer:/blocks/1/text/text]" in errors[0].getMessage()


def test_a_refused_response_url_post_gets_a_fallback_response(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.slack.app")
    url, method = bot.response_url()
    bot.fake.scripted[method] = [(400, {}, "invalid_blocks")]  # how a response_url says no: plain text, 400
    body = command_body("ask 容器一直重启怎么办", user=OPERATOR, response_url=url)
    assert post(bot.url + "/slack/events", body, signed_headers(body)).status == 200
    refused, fallback = bot.fake.wait_for(method, 2)
    assert blocks_of(refused) and "blocks" not in fallback
    assert fallback["text"].startswith(":warning: Slack could not show the full reply (invalid_blocks).")
    assert fallback["response_type"] == "ephemeral"
    assert 'deploybot_slack_errors_total{error="invalid_blocks",method="response_url"} 1' in bot.metrics()
    assert any("response_url: invalid_blocks" in r.getMessage() for r in caplog.records)


def test_a_refusal_that_is_not_about_the_message_gets_no_fallback(bot: Bot) -> None:
    bot.fake.scripted["chat.postMessage"] = [(200, {}, {"ok": False, "error": "not_in_channel"})]
    posts = len(bot.fake.named("chat.postMessage"))
    bot.mention("OOMKilled 是什么", "1700001100.000100", "EvNotInChannel")
    bot.fake.wait_for("chat.postMessage", posts + 1)
    bot.fake.settle()
    assert len(bot.fake.named("chat.postMessage")) == posts + 1  # a fallback would fail the same way
    assert 'deploybot_slack_errors_total{error="not_in_channel",method="chat.postMessage"} 1' in bot.metrics()


def test_help_and_answers_are_escaped_for_slack(bot: Bot) -> None:
    help_text = bot.fake.wait_for(bot.command("help"))[0]
    assert "`/deploybot inspect &lt;env&gt;`" in help_text["text"]
    answer = bot.fake.wait_for(bot.command("ask ImagePullBackOff 怎么排查"))[0]
    text = mrkdwn([answer])
    assert "&lt;pod&gt;" in text and "<pod>" not in text and "<namespace>" not in text


def signed_form(fields: dict[str, str]) -> tuple[str, dict[str, str]]:
    body = urllib.parse.urlencode(fields)
    return body, signed_headers(body)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload=" + urllib.parse.quote("[1,2]"), "application/x-www-form-urlencoded"),
        ("payload=" + urllib.parse.quote('"just a string"'), "application/x-www-form-urlencoded"),
        ("payload=" + urllib.parse.quote("null"), "application/x-www-form-urlencoded"),
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ("[1, 2]", "application/json"),
        ('"event"', "application/json"),
        ('{"type": "event_callback"', "application/json"),
        ("payload=%FF%FE", "application/x-www-form-urlencoded"),
    ],
)
def test_signed_but_malformed_bodies_are_400(bot: Bot, body: str, content_type: str) -> None:
    reply = post(bot.url + "/slack/events", body, signed_headers(body, content_type=content_type))
    assert reply.status == 400 and "Traceback" not in reply.body
    assert get(bot.url + "/healthz").status == 200


SECRET_BODY = "token=LEAKED-IF-LOGGED&text=" + urllib.parse.quote("ask <my private question>")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "not-a-number"},
        {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "¹²³", "X-Slack-Signature": "v0=00"},  # digits to Unicode, not to int()
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "-1", "X-Slack-Signature": "v0=deadbeef"},
        {},
    ],
    ids=["garbage-timestamp", "garbage-timestamp-signed", "superscript", "bad-signature", "negative", "none"],
)
def test_unsigned_or_badly_signed_requests_are_401_and_never_logged(
    bot: Bot, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reply = post(
        bot.url + "/slack/events",
        SECRET_BODY,
        {"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert reply.status == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "LEAKED-IF-LOGGED" not in logged and "private question" not in logged
    assert "refused" in logged  # the refusal itself is logged, without the body


def test_a_signed_payload_that_is_a_list_is_400_not_a_crash(bot: Bot) -> None:
    body, headers = signed_form({"payload": "[1,2]"})
    assert post(bot.url + "/slack/events", body, headers).status == 400
    _, answer = None, bot.fake.wait_for(bot.command("ask OOMKilled"))[0]
    assert answer["text"]  # still serving


# ---------------------------------------------------------------- against kube-local


def big_environment() -> list[dict[str, Any]]:
    """13 workloads crash-looping (one finding each) and 4 evicted pods: more than one message holds."""
    objects: list[dict[str, Any]] = []
    for n in range(13):
        app = f"app-{n:02d}"
        objects += k.web_workload(app=app, replicas=1, ready=0)
        crash = k.container_status(
            "web",
            state=k.waiting("CrashLoopBackOff", "back-off"),
            last_state=k.terminated(1, "Error", finished=1.5, ran=0.1, message=f"{NASTY} in {app}"),
            ready=False,
            restarts=9,
        )
        objects.append(k.web_pod(0, app=app, status=k.pod_status(containers=[crash])))
    return objects + k.evicted_pods(4)


@pytest.fixture(scope="module")
def big(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bot, str]]:
    bot_kubeconfig = kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    with pytest.MonkeyPatch.context() as clock:  # the API server stamps with the real clock too
        clock.setattr(k, "NOW", datetime.now(UTC).replace(microsecond=0))
        objects = big_environment()
    ns = cluster.namespace("big")
    load(cluster, ns, objects)
    namespaced, _ = chart_rules()
    cluster.grant(ns, "deploybot", namespaced)
    b = Bot(
        tmp_path_factory.mktemp("big"), {"big-env": Environment("big-env", ns, kubeconfig=bot_kubeconfig)}
    )
    yield b, ns
    b.stop()


def wait(found: Any, what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never saw {what}")


def inspect_in_channel(bot: Bot) -> tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """/deploybot inspect big-env: the summary's ts and message, and its thread's replies."""
    before = {ts for ts, _ in bot.fake.channel("C1")}
    method = bot.command("inspect big-env")
    ts, summary = wait(
        lambda: next(((t, m) for t, m in bot.fake.channel("C1") if t not in before), None), "a summary"
    )
    bot.fake.settle()
    assert not bot.fake.named(method), "posted to the channel itself, so the response_url is not used"
    return ts, summary, bot.fake.channel("C1", ts)


def test_a_big_inspection_is_a_summary_and_its_findings_in_the_thread(big: tuple[Bot, str]) -> None:
    bot, _ = big
    _, summary, thread = inspect_in_channel(bot)
    assert thread, "the findings that do not fit are replies in the thread"
    everything = [summary, *(m for _, m in thread)]
    text = json.dumps(everything, ensure_ascii=False)
    assert "not shown" not in text and "more findings in the thread" in json.dumps(
        summary, ensure_ascii=False
    )
    for n in range(13):
        assert text.count(f"Deployment/app-{n:02d}, exit code 1") == 1, n  # each finding once
    assert "4 pods evicted" in text
    assert all(len(blocks_of(m)) <= 50 for m in everything)
    delete = [
        e["action_id"] for m in everything for e in action_elements(m) if "delete_pod" in e["action_id"]
    ]
    assert delete == [
        "deploybot:act:delete_pod",
        "deploybot:act:delete_pod:2",
        "deploybot:act:delete_pod:3",
        "deploybot:act:delete_pod:4",
    ]
    live = mrkdwn(everything)
    assert "&lt;!channel&gt;" in live and "&lt;https://evil.example|click here&gt; &amp;" in live
    assert "<!channel>" not in live and "<https://evil" not in live and "<@U0BOSS>" not in live


def test_a_click_on_a_suffixed_button_in_the_thread_acts_and_refreshes(
    big: tuple[Bot, str], cluster: Cluster
) -> None:
    bot, ns = big
    summary_ts, _, thread = inspect_in_channel(bot)
    reply_ts, reply = next((t, m) for t, m in thread if "4 pods evicted" in json.dumps(m, ensure_ascii=False))
    third = next(e for e in action_elements(reply) if e["action_id"] == "deploybot:act:delete_pod:3")

    def pods() -> set[str]:
        return {
            p["metadata"]["name"]
            for p in cluster.admin.request("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
        }

    before = pods()
    method = bot.click(third, message_ts=reply_ts, thread_ts=summary_ts)
    fresh = bot.fake.wait_for(method)[0]
    assert fresh["replace_original"] is True and f"<@{OPERATOR}> delete" in json.dumps(fresh)
    assert len(before - pods()) == 1
    bot.fake.settle()
    assert len(bot.fake.channel("C1", summary_ts)) > len(thread), (
        "the refreshed findings went to the same thread"
    )


def test_a_big_inspection_from_a_mention_updates_the_placeholder_and_fills_the_thread(
    big: tuple[Bot, str],
) -> None:
    bot, _ = big
    bot.mention("看看 big-env", "1700002000.000100", "EvBig")
    wait(lambda: bot.fake.named("chat.update"), "the placeholder's update")
    bot.fake.settle()
    thread = bot.fake.channel("C9", "1700002000.000100")
    placeholder = thread[0][1]  # updated in place: the summary
    assert ":mag:" not in placeholder["text"]
    assert "more findings in the thread" in json.dumps(placeholder, ensure_ascii=False)
    assert any("pods evicted" in json.dumps(m, ensure_ascii=False) for _, m in thread[1:])


def test_a_big_inspection_where_the_bot_is_not_in_the_channel_goes_through_the_response_url(
    big: tuple[Bot, str],
) -> None:
    bot, _ = big
    bot.fake.scripted["chat.postMessage"] = [(200, {}, {"ok": False, "error": "not_in_channel"})]
    method = bot.command("inspect big-env")
    first = bot.fake.wait_for(method)[0]
    bot.fake.settle()
    responses = bot.fake.named(method)
    assert len(responses) >= 2, "the summary, then the findings that did not fit, in order"
    assert all(r["response_type"] == "in_channel" for r in responses)
    assert "more findings in the thread" in json.dumps(first, ensure_ascii=False)
    assert all(r.get("replace_original") is False for r in responses[1:])
    assert "pods evicted" in json.dumps(responses[1:], ensure_ascii=False)
    assert 'deploybot_slack_errors_total{error="not_in_channel",method="chat.postMessage"}' in bot.metrics()
