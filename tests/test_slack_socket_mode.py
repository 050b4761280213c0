"""`deploybot serve` in Socket Mode, as a real process, against a local Socket Mode server.

The process gets SLACK_APP_TOKEN and SLACK_API_URL; apps.connections.open on that base URL hands
it a WebSocket (tests/socket_mode_server.py) that pushes envelopes shaped like Slack's; every other
Web API call reaches the strict FakeSlack. The cluster behind it is kube-local, plus a small
in-process API server for pod logs (kube-local has no kubelet).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.knowledge_base import KnowledgeBase
from bot.slack.serve import SlackSettings
from tests import k8s_objects as k
from tests.conftest import REPO, run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.slack_harness import (  # noqa: F401 - slack_rejections_checked is an autouse fixture
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    LoopThread,
    command_body,
    post,
    signed_headers,
    slack_rejections_checked,
    start_fake_slack,
)
from tests.socket_mode_server import (
    APP_TOKEN,
    ServeProcess,
    SocketModeServer,
    app_mention,
    block_actions,
    direct_message,
    events_api,
    free_port,
    slash_command,
)
from tests.test_kube_adapter import fake_kubeconfig
from tests.test_slack_app import shop_namespace

OPERATOR = "U0OPERATOR"
#: the pod's grace period in the chart (terminationGracePeriodSeconds)
GRACE = 30.0
SHORT_LOG = "\n".join(f"2026-12-02T05:00:{i:02d}Z starting web, attempt {i}" for i in range(8))
LONG_LOG = "\n".join(
    f"2026-12-02T05:{i // 60:02d}:{i % 60:02d}Z ERROR pool exhausted: connection {i} to db:3306 refused"
    for i in range(200)
)


class LogsApi(BaseHTTPRequestHandler):
    """A Kubernetes API with one crash-looping pod per namespace and its log, as kube-apiserver serves
    pods/log: raw text, but negotiated like JSON, so `Accept: text/plain` alone is a 406."""

    pods: ClassVar[dict[str, dict[str, Any]]] = {}
    logs: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer t":
            return self._json(
                401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401}
            )
        path = urlparse(self.path).path
        log = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/log", path)
        if log:
            accept = [a.split(";")[0].strip() for a in (self.headers.get("Accept") or "").split(",")]
            if not {"application/json", "*/*", "application/*"} & set(accept):
                message = "only the following media types are accepted: application/json, application/yaml"
                return self._json(
                    406, {"kind": "Status", "status": "Failure", "message": message, "code": 406}
                )
            body = self.logs[log.group(1)].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        if path == "/apis":
            return self._json(200, {"kind": "APIGroupList", "groups": []})
        listing = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", path)
        items = [self.pods[listing.group(1)]] if listing and listing.group(1) in self.pods else []
        return self._json(200, {"kind": "List", "items": items})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def knowledge_env(settings: Settings) -> dict[str, str]:
    """The session's compiled knowledge base, shared read-only: no compile per process."""
    return {
        "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
        "DEPLOYBOT_KNOWLEDGE_DB": str(settings.knowledge_db),
    }


class SocketWorld:
    def __init__(self, cluster: Cluster, tmp: Path, settings: Settings) -> None:
        self.loop = LoopThread()
        self.fake, _ = start_fake_slack(self.loop)
        self.socket = SocketModeServer(self.fake.url)
        self.socket.start(self.loop)
        self.cluster = cluster
        self.ns = shop_namespace(cluster, "socket")
        pod = next(o for o in k.crash_loop_pods(1) if o["kind"] == "Pod")
        LogsApi.pods = {"logs-short": pod, "logs-long": pod}
        LogsApi.logs = {"logs-short": SHORT_LOG, "logs-long": LONG_LOG}
        self.logs_api = ThreadingHTTPServer(("127.0.0.1", 0), LogsApi)
        threading.Thread(target=self.logs_api.serve_forever, daemon=True).start()
        logs_kubeconfig = fake_kubeconfig(tmp, f"http://127.0.0.1:{self.logs_api.server_address[1]}")
        bot = kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
        config = "\n".join(
            [
                "environments:",
                "  shop-prod:",
                f"    namespace: {self.ns}",
                f"    kubeconfig: {bot}",
                "    protected: true",
                f"    operators: [{OPERATOR}]",
                *(
                    line
                    for name in ("logs-short", "logs-long")
                    for line in (f"  {name}:", f"    namespace: {name}", f"    kubeconfig: {logs_kubeconfig}")
                ),
                "",
            ]
        )
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": self.socket.url + "/api/",
            **knowledge_env(settings),
        }
        self.serve = ServeProcess.start(tmp / "serve", env, config)
        self.socket.wait_connected()
        self.serve.wait_ready()
        self.responses = 0

    def response_url(self) -> tuple[str, str]:
        self.responses += 1
        return f"{self.fake.url}/response/socket-{self.responses}", f"response/socket-{self.responses}"

    def command(self, text: str, user: str = OPERATOR) -> tuple[Any, dict[str, Any]]:
        """Private answers come through the response_url; inspections are posted to the channel."""
        url, method = self.response_url()
        posts = len(self.channel_posts())
        ack = self.socket.send(slash_command(text, user=user, response_url=url))
        found = wait_until(
            lambda: self.fake.named(method)[:1] or self.channel_posts()[posts : posts + 1],
            f"a reply to {text!r}",
        )
        return ack, found[0]

    def channel_posts(self) -> list[dict[str, Any]]:
        return [m for m in self.posts_to("C1") if not m.get("thread_ts")]

    def click(self, message: dict[str, Any], action_id: str, user: str = OPERATOR) -> tuple[Any, str]:
        url, method = self.response_url()
        ref = buttons(message)[action_id]["value"]
        ack = self.socket.send(block_actions(user=user, action_id=action_id, value=ref, response_url=url))
        return ack, method

    def posts_to(self, channel: str) -> list[dict[str, Any]]:
        return [
            b for name, b in self.fake.calls if name == "chat.postMessage" and b.get("channel") == channel
        ]


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    raw = message.get("blocks", [])
    for block in json.loads(raw) if isinstance(raw, str) else raw:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            found[element["action_id"]] = element
    return found


def wait_until(check: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture(scope="module")
def world(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, settings: Settings, kb: KnowledgeBase
) -> Iterator[SocketWorld]:
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    w = SocketWorld(cluster, tmp_path_factory.mktemp("socket"), settings)
    yield w
    w.serve.terminate()
    w.socket.stop()
    w.logs_api.shutdown()
    w.loop.stop()


@pytest.fixture(autouse=True)
def socket_protocol_checked(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the shared process: nothing it sent on the socket broke the protocol."""
    yield
    if "world" in request.fixturenames:
        world: SocketWorld = request.getfixturevalue("world")
        problems = world.socket.verdict()
        assert not problems, problems


def test_connects_with_the_app_token_and_checks_the_bot_token(world: SocketWorld) -> None:
    assert world.socket.opens[0] == "ok" and len(world.socket.live()) == 1
    assert world.fake.named("auth.test")  # the bot token was checked at startup
    wait_until(lambda: "connected to Slack in Socket Mode" in world.serve.output(), "the connected log line")
    assert APP_TOKEN not in world.serve.output() and BOT_TOKEN not in world.serve.output()


def test_slash_command_is_acked_and_answered_through_response_url(world: SocketWorld) -> None:
    ack, answer = world.command("ask 容器一直重启怎么办")
    assert ack.kind == "slash_commands" and ack.payload is None  # an empty ack; the answer follows
    assert answer["response_type"] == "ephemeral"  # a question is answered privately
    assert answer["text"] and answer["blocks"] and "deploybot:topic" in json.dumps(answer)  # topic buttons


def test_mention_on_its_first_delivery_is_answered_in_the_thread(world: SocketWorld) -> None:
    """retry_attempt 0 is a first delivery: bolt turns it into x-slack-retry-num "0", not a retry."""
    thread = "1700000100.000100"
    event = app_mention("看看 shop-prod", user=OPERATOR, channel="C9", ts=thread)
    ack = world.socket.send(events_api(event, event_id="EvSocketMention"))
    assert ack.kind == "events_api" and ack.payload is None
    placeholder = wait_until(lambda: world.posts_to("C9"), "a reply in C9")[0]
    assert placeholder["thread_ts"] == thread
    update = world.fake.wait_for("chat.update")[-1]
    assert "shop-prod" in json.dumps(update) and "CrashLoop" in json.dumps(update, ensure_ascii=False)


def test_a_real_retry_is_acked_and_skipped(world: SocketWorld) -> None:
    event = app_mention("OOMKilled 怎么办", user=OPERATOR, channel="CRETRY", ts="1700000300.000300")
    ack = world.socket.send(
        events_api(event, event_id="EvSocketRetry", retry_attempt=1, retry_reason="timeout")
    )
    assert ack.kind == "events_api"
    world.fake.settle()
    assert world.posts_to("CRETRY") == []
    assert 'deploybot_requests_total{kind="retry_skipped"} 1' in world.serve.get("/metrics")[1]


def test_dm_is_answered_in_the_dm(world: SocketWorld) -> None:
    event = direct_message("OOMKilled 怎么办", user=OPERATOR, channel="D1", ts="1700000200.000200")
    world.socket.send(events_api(event, event_id="EvSocketDm"))
    reply = wait_until(lambda: world.posts_to("D1"), "a DM reply")[0]
    assert not reply.get("thread_ts")  # a DM is the conversation: no thread for a plain question
    assert "OOMKilled" in json.dumps(reply, ensure_ascii=False)


def test_button_click_restarts_the_deployment_on_kube_local(world: SocketWorld) -> None:
    _, message = world.command("inspect shop-prod")
    assert message["channel"] == "C1" and not message.get("thread_ts")  # posted: its thread can follow up
    ack, method = world.click(message, "deploybot:act:restart")
    assert ack.kind == "interactive"
    updated = world.fake.wait_for(method)[0]
    assert updated["replace_original"] is True
    assert f"<@{OPERATOR}> restart Deployment/shop-web" in json.dumps(updated)
    web = world.cluster.admin.request("GET", f"/apis/apps/v1/namespaces/{world.ns}/deployments/shop-web")
    assert "kubectl.kubernetes.io/restartedAt" in web["spec"]["template"]["metadata"]["annotations"]


def test_short_logs_are_a_message_in_the_thread(world: SocketWorld) -> None:
    posts = len(world.posts_to("C1"))
    _, message = world.command("inspect logs-short")
    world.click(message, "deploybot:act:logs")
    reply = wait_until(
        lambda: [p for p in world.posts_to("C1")[posts:] if p.get("thread_ts")], "the log reply"
    )[-1]
    assert reply["thread_ts"] == "1700000000.000001"
    assert "attempt 7" in json.dumps(reply)
    assert not world.fake.named("files.completeUploadExternal")


def test_long_logs_are_a_file_in_the_thread(world: SocketWorld) -> None:
    _, message = world.command("inspect logs-long")
    world.click(message, "deploybot:act:logs")
    wait_until(lambda: world.fake.named("files.completeUploadExternal"), "the log file")
    (upload,) = [u for u in world.fake.uploads.values() if u.shared]
    assert upload.content == LONG_LOG.encode()
    assert upload.channel == "C1" and upload.thread_ts == "1700000000.000001"
    assert upload.filename == "logs.txt" and "200 lines" in (upload.initial_comment or "")


def test_long_logs_without_files_write_still_reach_the_thread(world: SocketWorld) -> None:
    """An install made before the manifest asked for files:write: the tail, clipped, as a message."""
    world.fake.scripted["files.getUploadURLExternal"] = [
        (200, {}, {"ok": False, "error": "missing_scope", "needed": "files:write", "provided": "chat:write"})
    ]
    posts = len(world.posts_to("C1"))
    _, message = world.command("inspect logs-long")
    world.click(message, "deploybot:act:logs")
    reply = wait_until(
        lambda: [p for p in world.posts_to("C1")[posts:] if p.get("thread_ts")], "the clipped log reply"
    )[-1]
    assert reply["thread_ts"] == "1700000000.000001"
    assert "connection 199 to db:3306 refused" in json.dumps(reply)  # the tail, where the crash is
    assert "missing_scope" in world.serve.output()


def test_refresh_requested_reconnects_and_keeps_answering(world: SocketWorld) -> None:
    before = world.socket.live()[-1]
    fresh = world.socket.refresh()
    assert fresh.number > before.number and before.ws.closed
    assert world.socket.opens.count("ok") >= 2  # a new URL from apps.connections.open, not a reused one
    ack, answer = world.command("help")
    assert ack.connection == fresh.number
    assert "/deploybot ask" in json.dumps(answer)


# ---------------------------------------------------------------- mode, startup and shutdown


@pytest.mark.parametrize(
    ("env", "mode", "app_token"),
    [
        ({"SLACK_APP_TOKEN": APP_TOKEN}, "socket", APP_TOKEN),
        ({"SLACK_SIGNING_SECRET": "s"}, "http", None),
        (
            {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": "s", "DEPLOYBOT_SLACK_MODE": "http"},
            "http",
            None,
        ),
        ({"SLACK_APP_TOKEN": APP_TOKEN, "DEPLOYBOT_SLACK_MODE": "socket"}, "socket", APP_TOKEN),
    ],
)
def test_the_mode_setting(env: dict[str, str], mode: str, app_token: str | None) -> None:
    settings = SlackSettings.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN, **env})
    assert (settings.mode, settings.app_token) == (mode, app_token)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEPLOYBOT_SLACK_MODE": "socket", "SLACK_SIGNING_SECRET": "s"}, "SLACK_APP_TOKEN"),
        ({"DEPLOYBOT_SLACK_MODE": "websocket", "SLACK_APP_TOKEN": APP_TOKEN}, "'websocket' is not a mode"),
        ({"DEPLOYBOT_SLACK_MODE": "http", "SLACK_APP_TOKEN": APP_TOKEN}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": BOT_TOKEN}, "not an app-level token"),
    ],
)
def test_mode_mistakes_are_config_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        SlackSettings.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN, **env})


def test_an_unknown_mode_stops_serve_with_exit_2(tmp_path: Path) -> None:
    done = run_cli("serve", env={"SLACK_BOT_TOKEN": BOT_TOKEN, "DEPLOYBOT_SLACK_MODE": "sockets"})
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "deploybot: bad config: DEPLOYBOT_SLACK_MODE: 'sockets' is not a mode; use http or socket"
    )


@pytest.fixture
def slack(tmp_path: Path) -> Iterator[tuple[FakeSlack, SocketModeServer]]:
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    server = SocketModeServer(fake.url)
    server.start(loop)
    yield fake, server
    server.stop()
    loop.stop()


def serve(tmp: Path, server: SocketModeServer, settings: Settings, **env: str) -> ServeProcess:
    base = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": server.url + "/api/", "SLACK_APP_TOKEN": APP_TOKEN}
    return ServeProcess.start(tmp, {**base, **knowledge_env(settings), **env})


def lines(process: ServeProcess) -> list[str]:
    return [line for line in process.output().splitlines() if line.strip()]


def test_a_rejected_app_token_exits_naming_it(
    tmp_path: Path, slack: tuple[FakeSlack, SocketModeServer], settings: Settings, kb: KnowledgeBase
) -> None:
    _, server = slack
    process = serve(tmp_path, server, settings, SLACK_APP_TOKEN="xapp-1-A0DEPLOYBOT-2-0badc0ffee")
    assert process.wait_exit(GRACE) != 0
    errors = [line for line in lines(process) if "rejected" in line]
    assert len(errors) == 1, process.output()
    assert "SLACK_APP_TOKEN was rejected by Slack (apps.connections.open: invalid_auth)" in errors[0]
    assert server.opens == ["invalid_auth"] and not server.connections  # asked once, no retry loop
    assert "0badc0ffee" not in process.output()


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_a_rejected_bot_token_exits_naming_it(
    tmp_path: Path,
    slack: tuple[FakeSlack, SocketModeServer],
    settings: Settings,
    kb: KnowledgeBase,
    mode: str,
) -> None:
    fake, server = slack
    fake.expect_rejection("invalid_auth", "auth.test")
    process = serve(
        tmp_path,
        server,
        settings,
        SLACK_BOT_TOKEN="xoxb-broken",
        DEPLOYBOT_SLACK_MODE=mode,
        SLACK_SIGNING_SECRET="s",
    )
    assert process.wait_exit(GRACE) != 0
    errors = [line for line in lines(process) if "rejected" in line]
    assert len(errors) == 1, process.output()
    assert "SLACK_BOT_TOKEN was rejected by Slack (auth.test: invalid_auth)" in errors[0]
    assert server.opens == []  # the app token is not even tried with a bad bot token
    assert "xoxb-broken" not in process.output()


def test_http_mode_with_an_app_token_present_serves_http(
    tmp_path: Path, slack: tuple[FakeSlack, SocketModeServer], settings: Settings, kb: KnowledgeBase
) -> None:
    fake, server = slack
    process = serve(
        tmp_path, server, settings, DEPLOYBOT_SLACK_MODE="http", SLACK_SIGNING_SECRET=SIGNING_SECRET
    )
    try:
        process.wait_ready()
        body = command_body("help", user=OPERATOR, response_url=fake.url + "/response/http-mode")
        reply = post(f"http://127.0.0.1:{process.port}/slack/events", body, signed_headers(body))
        assert reply.status == 200
        assert "/deploybot ask" in json.dumps(fake.wait_for("response/http-mode")[0])
        assert server.opens == []  # no Socket Mode connection was opened
    finally:
        assert process.terminate(GRACE) == 0


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_sigterm_stops_serve_within_the_grace_period(
    tmp_path: Path,
    slack: tuple[FakeSlack, SocketModeServer],
    settings: Settings,
    kb: KnowledgeBase,
    mode: str,
) -> None:
    fake, server = slack
    process = serve(tmp_path, server, settings, DEPLOYBOT_SLACK_MODE=mode, SLACK_SIGNING_SECRET="s")
    process.wait_ready()
    if mode == "socket":
        connection = server.wait_connected()
        url = fake.url + "/response/sigterm"
        assert server.send(slash_command("help", user=OPERATOR, response_url=url)).kind == "slash_commands"
    assert process.terminate(GRACE) == 0
    if mode == "socket":
        assert connection.ws.closed  # the app closed its WebSocket on the way out
    entries = [json.loads(line) for line in lines(process)]  # JSON lines, even on the way out
    assert any("listening on" in e["message"] or "Socket Mode" in e["message"] for e in entries)


def test_sigterm_while_the_websocket_never_opens(
    tmp_path: Path, slack: tuple[FakeSlack, SocketModeServer], settings: Settings, kb: KnowledgeBase
) -> None:
    """A start that hangs (the WebSocket handshake never completes) still ends on SIGTERM."""
    _, server = slack
    server.hold_handshakes = True
    process = serve(tmp_path, server, settings)
    wait_until(lambda: server.held, "the app dialling the WebSocket", timeout=30)
    assert process.get("/healthz") == (200, "ok")  # alive while connecting...
    assert process.get("/readyz")[0] == 503  # ...but not ready: it is not connected to Slack
    assert process.terminate(GRACE) == 0
    assert "stopped while starting" in process.output()


def test_readiness_goes_false_when_the_socket_cannot_come_back(
    tmp_path: Path, slack: tuple[FakeSlack, SocketModeServer], settings: Settings, kb: KnowledgeBase
) -> None:
    """The app token is revoked while connected: Slack's refresh cannot be followed, /readyz says so."""
    _, server = slack
    process = serve(tmp_path, server, settings)
    try:
        process.wait_ready()
        server.app_token = "xapp-1-A0DEPLOYBOT-3-rotated"  # the old token no longer opens connections
        server.drop()
        wait_until(lambda: process.get("/readyz")[0] == 503, "readiness to drop", timeout=30)
        assert "invalid_auth" in server.opens and process.get("/healthz") == (200, "ok")
    finally:
        assert process.terminate(GRACE) == 0


def test_a_taken_port_is_one_clear_line(
    tmp_path: Path, slack: tuple[FakeSlack, SocketModeServer], settings: Settings, kb: KnowledgeBase
) -> None:
    import socket

    _, server = slack
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = serve(tmp_path, server, settings, PORT=str(port))
        assert process.wait_exit(GRACE) == 1
    assert f"cannot listen on port {port} (PORT)" in lines(process)[-1]
    assert "Traceback" not in process.output()


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_an_unreachable_slack_at_startup_is_an_exit_not_a_retry_loop(
    tmp_path: Path, settings: Settings, kb: KnowledgeBase, mode: str
) -> None:
    api = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_API_URL": api}
    env |= {"DEPLOYBOT_SLACK_MODE": mode, "SLACK_SIGNING_SECRET": "s", **knowledge_env(settings)}
    process = ServeProcess.start(tmp_path, env)
    assert process.wait_exit(GRACE) == 1
    assert f"cannot reach the Slack Web API at {api} (auth.test: " in lines(process)[-1]
