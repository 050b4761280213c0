"""The local Slack Web API server refuses what Slack refuses, the way Slack does.

Driven by slack_sdk's own clients over real HTTP, as the bot drives it. Every refusal here is
announced with `expect_rejection`; the `slack_rejections_checked` fixture fails any test whose
server refused something else (or did not refuse what was announced).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.slack_harness import (  # noqa: F401 - slack_rejections_checked is an autouse fixture
    BOT_TOKEN,
    FakeSlack,
    LoopThread,
    Rejection,
    slack_rejections_checked,
    start_fake_slack,
)


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    yield fake
    loop.stop()


def client(fake: FakeSlack, token: str | None = BOT_TOKEN) -> WebClient:
    return WebClient(token=token, base_url=fake.url + "/api/")


def button(**changes: Any) -> dict[str, Any]:
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": "重启 Restart", "emoji": True},
        "action_id": "deploybot:act:restart",
        "value": "ref-1",
        "style": "danger",
        "confirm": {
            "title": {"type": "plain_text", "text": "确认 / Confirm"},
            "text": {"type": "mrkdwn", "text": "restart Deployment/shop-web"},
            "confirm": {"type": "plain_text", "text": "执行 / Do it"},
            "deny": {"type": "plain_text", "text": "取消 / Cancel"},
            "style": "danger",
        },
    }
    element.update(changes)
    return element


def message() -> list[dict[str, Any]]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "shop-prod", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*1 critical*"}},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "inspected at 05:00:00 UTC"}]},
        {"type": "actions", "elements": [button(), button(action_id="deploybot:act:logs", style="primary")]},
    ]


def changed(edit: Callable[[list[dict[str, Any]]], Any]) -> list[dict[str, Any]]:
    blocks = copy.deepcopy(message())
    edit(blocks)
    return blocks


def set_path(path: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def edit(blocks: list[dict[str, Any]]) -> None:
        *head, last = path.split("/")
        node: Any = blocks
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


#: (what, blocks, a fragment of Slack's `errors`)
INVALID: list[tuple[str, list[dict[str, Any]], str]] = [
    (
        "section text over 3,000",
        changed(set_path("1/text/text", "x" * 3001)),
        "must be less than 3001 characters [json-pointer:/blocks/1/text/text]",
    ),
    ("empty section text", changed(set_path("1/text/text", "")), "must be more than 0 characters"),
    ("section without text", changed(lambda b: b[1].pop("text")), "must define either `text` or `fields`"),
    (
        "header over 150",
        changed(set_path("0/text/text", "x" * 151)),
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
    ),
    ("mrkdwn header", changed(set_path("0/text/type", "mrkdwn")), "[json-pointer:/blocks/0/text/type]"),
    (
        "button text over 75",
        changed(set_path("4/elements/0/text/text", "x" * 76)),
        "must be less than 76 characters [json-pointer:/blocks/4/elements/0/text/text]",
    ),
    ("mrkdwn button text", changed(set_path("4/elements/0/text/type", "mrkdwn")), "/elements/0/text/type"),
    (
        "button value over 2,000",
        changed(set_path("4/elements/0/value", "v" * 2001)),
        "must be less than 2001 characters [json-pointer:/blocks/4/elements/0/value]",
    ),
    ("bad button style", changed(set_path("4/elements/0/style", "red")), "/elements/0/style"),
    (
        "confirm title over 100",
        changed(set_path("4/elements/0/confirm/title/text", "t" * 101)),
        "must be less than 101 characters [json-pointer:/blocks/4/elements/0/confirm/title/text]",
    ),
    (
        "confirm text over 300",
        changed(set_path("4/elements/0/confirm/text/text", "t" * 301)),
        "must be less than 301 characters [json-pointer:/blocks/4/elements/0/confirm/text/text]",
    ),
    (
        "duplicate action_id in a block",
        changed(set_path("4/elements/1/action_id", "deploybot:act:restart")),
        "duplicate action_id: deploybot:act:restart [json-pointer:/blocks/4/elements/1/action_id]",
    ),
    (
        "duplicate block_id in a message",
        changed(lambda b: [b[1].update(block_id="b1"), b[2].update(block_id="b1")]),
        "duplicate block_id: b1 [json-pointer:/blocks/2/block_id]",
    ),
    ("more than 50 blocks", [{"type": "divider"}] * 51, "must be less than 51 items [json-pointer:/blocks]"),
    (
        "more than 25 buttons",
        changed(set_path("4/elements", [button(action_id=f"a{i}") for i in range(26)])),
        "[json-pointer:/blocks/4/elements]",
    ),
    ("empty actions", changed(set_path("4/elements", [])), "[json-pointer:/blocks/4/elements]"),
    (
        "more than 10 context elements",
        changed(set_path("3/elements", [{"type": "mrkdwn", "text": "x"}] * 11)),
        "[json-pointer:/blocks/3",
    ),
    ("unknown block type", changed(set_path("2/type", "banner")), "unsupported type: banner"),
    ("unknown property", changed(lambda b: b[1].update(colour="red")), "invalid additional property"),
    ("a block that is not an object", changed(set_path("2", "divider")), "expected an object"),
]


@pytest.mark.parametrize(
    ("blocks", "fragment"), [(b, f) for _, b, f in INVALID], ids=[w for w, _, _ in INVALID]
)
@pytest.mark.parametrize("method", ["chat.postMessage", "chat.postEphemeral", "chat.update"])
def test_invalid_blocks_are_refused_in_slacks_shape(
    slack: FakeSlack, method: str, blocks: list[dict[str, Any]], fragment: str
) -> None:
    web = client(slack)
    args: dict[str, Any] = {"channel": "C1", "text": "fallback", "blocks": blocks}
    if method == "chat.update":
        args["ts"] = web.chat_postMessage(channel="C1", text="placeholder")["ts"]
    if method == "chat.postEphemeral":
        args["user"] = "U0OPERATOR"
    slack.expect_rejection("invalid_blocks", method)
    with pytest.raises(SlackApiError) as refused:
        web.api_call(method, json=args)
    data = refused.value.response.data
    assert isinstance(data, dict)
    assert data["ok"] is False and data["error"] == "invalid_blocks"
    assert any(fragment in e for e in data["errors"]), data["errors"]
    assert data["response_metadata"]["messages"] == [f"[ERROR] {e}" for e in data["errors"]]


def test_a_valid_message_is_accepted_and_its_shape_counted(slack: FakeSlack) -> None:
    web = client(slack)
    posted = web.chat_postMessage(channel="C1", text="shop-prod: 1 critical", blocks=message())
    assert posted["ok"] and posted["channel"] == "C1" and posted["message"]["blocks"] == message()
    updated = web.chat_update(channel="C1", ts=posted["ts"], text="now healthy", blocks=message()[:2])
    assert updated["ts"] == posted["ts"] and slack.messages[("C1", posted["ts"])]["text"] == "now healthy"
    assert web.chat_postEphemeral(channel="C1", user="U1", text="only you")["message_ts"]
    assert slack.shapes[("header", "section", "divider", "context", "actions")] >= 1
    assert slack.shapes[("text",)] >= 1 and slack.shapes[("header", "section")] >= 1


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("chat.postMessage", {"channel": "C1"}, "no_text"),
        ("chat.postMessage", {"channel": "C1", "text": "   ", "blocks": []}, "no_text"),
        ("chat.postMessage", {"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
        ("chat.postMessage", {"text": "where?"}, "channel_not_found"),
        ("chat.postMessage", {"channel": "C1", "text": "x", "thread_ts": "yesterday"}, "invalid_thread_ts"),
        ("chat.postMessage", {"channel": "C1", "text": "x", "blocks": "[{not json"}, "invalid_blocks_format"),
        (
            "chat.postMessage",
            {"channel": "C1", "text": "x", "blocks": {"type": "divider"}},
            "invalid_blocks_format",
        ),
        ("chat.update", {"channel": "C1", "text": "x"}, "invalid_arguments"),
        ("chat.update", {"channel": "C1", "ts": "1700000000.999999", "text": "x"}, "message_not_found"),
        ("chat.postEphemeral", {"channel": "C1", "text": "x"}, "invalid_arguments"),
        ("chat.scheduleMessage", {"channel": "C1", "text": "x"}, "unknown_method"),
    ],
)
def test_missing_or_bad_arguments_are_refused(
    slack: FakeSlack, method: str, args: dict[str, Any], error: str
) -> None:
    slack.expect_rejection(error, method)
    with pytest.raises(SlackApiError) as refused:
        client(slack).api_call(method, json=args)
    assert refused.value.response["error"] == error


def test_form_encoded_calls_are_checked_the_same(slack: FakeSlack) -> None:
    web = client(slack)
    ok = web.api_call(
        "chat.postMessage", data={"channel": "C1", "text": "x", "blocks": json.dumps(message())}
    )
    assert ok["ok"]
    slack.expect_rejection("invalid_blocks", "chat.postMessage")
    too_long = changed(set_path("1/text/text", "x" * 3001))
    with pytest.raises(SlackApiError):
        web.api_call("chat.postMessage", data={"channel": "C1", "text": "x", "blocks": json.dumps(too_long)})


@pytest.mark.parametrize(
    ("token", "error"), [(None, "not_authed"), ("xoxb-revoked", "invalid_auth"), ("", "not_authed")]
)
def test_bad_or_missing_tokens_are_refused(slack: FakeSlack, token: str | None, error: str) -> None:
    slack.expect_rejection(error, "chat.postMessage")
    with pytest.raises(SlackApiError) as refused:
        client(slack, token).chat_postMessage(channel="C1", text="hi")
    assert refused.value.response["error"] == error


def test_token_in_the_body_counts(slack: FakeSlack) -> None:
    assert client(slack, None).api_call("auth.test", data={"token": BOT_TOKEN})["user_id"] == "UBOT"


def test_response_url_answers_like_an_incoming_webhook(slack: FakeSlack) -> None:
    url = slack.url + "/response/strict-1"
    hook = WebhookClient(url)
    ok = hook.send(text="fine", blocks=message(), response_type="in_channel")
    assert ok.status_code == 200 and json.loads(ok.body)["ok"] is True
    slack.expect_rejection("invalid_blocks", "response/strict-1")
    bad = hook.send(text="x", blocks=changed(set_path("4/elements/0/value", "v" * 2001)))
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    slack.expect_rejection("no_text", "response/strict-1")
    assert (hook.send_dict({"response_type": "ephemeral"}).status_code, "no_text") == (400, "no_text")
    slack.expect_rejection("invalid_payload", "response/strict-1")
    assert hook.send(text="x", response_type="everyone").status_code == 400
    for n in range(2, 6):  # a response_url takes five responses
        assert hook.send(text=f"response {n}", replace_original=False).status_code == 200
    slack.expect_rejection("used_url", "response/strict-1")
    used = hook.send(text="a sixth response")
    assert (used.status_code, used.body) == (404, "used_url")


def test_delete_original_needs_no_text(slack: FakeSlack) -> None:
    assert (
        WebhookClient(slack.url + "/response/strict-2").send_dict({"delete_original": True}).status_code
        == 200
    )


def test_files_upload_v2_goes_through_all_three_steps(slack: FakeSlack) -> None:
    web = client(slack)
    thread = web.chat_postMessage(channel="C1", text="inspection")["ts"]
    log = "".join(f"2026-12-02T05:00:{i % 60:02d}Z line {i} <ok> & done\n" for i in range(2000))
    done = web.files_upload_v2(
        channel="C1", thread_ts=thread, content=log, filename="logs.txt", title="logs", initial_comment="tail"
    )
    file = done["file"]
    upload = slack.uploads[file["id"]]
    assert upload.content == log.encode() and upload.title == "logs" and upload.filename == "logs.txt"
    assert (upload.channel, upload.thread_ts, upload.initial_comment, upload.shared) == (
        "C1",
        thread,
        "tail",
        True,
    )
    assert slack.calls[-3][0] == "files.getUploadURLExternal"
    assert slack.calls[-1][0] == "files.completeUploadExternal"


def test_upload_steps_are_strict(slack: FakeSlack) -> None:
    web = client(slack)
    slack.expect_rejection("invalid_arguments", "files.getUploadURLExternal")
    with pytest.raises(SlackApiError):
        web.api_call("files.getUploadURLExternal", data={"filename": "x.txt"})
    slack.expect_rejection("missing_argument", "files.getUploadURLExternal")
    with pytest.raises(SlackApiError):
        web.files_getUploadURLExternal(filename="x.txt", length=0)
    ticket = web.files_getUploadURLExternal(filename="x.txt", length=5)
    slack.expect_rejection("file_not_found", "files.completeUploadExternal")  # nothing uploaded yet
    with pytest.raises(SlackApiError):
        web.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "x"}], channel_id="C1")
    slack.expect_rejection("invalid_length")
    short = WebhookClient(ticket["upload_url"]).send_dict({"a": 1})  # any POST; 7 bytes, not 5
    assert short.status_code == 400
    import urllib.request

    with urllib.request.urlopen(
        urllib.request.Request(ticket["upload_url"], data=b"hello", method="POST")
    ) as r:
        assert r.status == 200 and r.read() == b"OK - 5"
    slack.expect_rejection("invalid_arguments", "files.completeUploadExternal")
    with pytest.raises(SlackApiError):
        web.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], thread_ts="1700000000.000001")
    slack.expect_rejection("invalid_arguments", "files.completeUploadExternal")
    with pytest.raises(SlackApiError):
        web.api_call("files.completeUploadExternal", data={"files": "not json"})
    assert (
        web.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "x"}])["files"][0]["size"]
        == 5
    )
    slack.expect_rejection("file_not_found", "files.completeUploadExternal")  # completed once only
    with pytest.raises(SlackApiError):
        web.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "x"}])


def test_unexpected_and_missing_rejections_are_reported() -> None:
    fake = FakeSlack()
    fake.rejections.append(Rejection("chat.update", "invalid_blocks", ["duplicate action_id: a"], {}))
    fake.expect_rejection("msg_too_long")
    problems = fake.verdict()
    assert problems == [
        "Slack refused chat.update: invalid_blocks (duplicate action_id: a)",
        "expected Slack to refuse with msg_too_long (any method), it did not",
    ]
    assert fake.verdict() == []  # both lists were reset
    fake.rejections.append(Rejection("chat.update", "invalid_blocks", [], {}))
    fake.expect_rejection("invalid_blocks", "chat.update")
    assert fake.verdict() == []
