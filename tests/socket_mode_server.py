"""Slack's Socket Mode as the tests see it: `apps.connections.open`, a WebSocket that says hello,
pushes envelopes shaped exactly like Slack's, waits for their acks and asks for refreshes.

Every other Web API call (chat.postMessage, files.*, auth.test...) is passed through unchanged to
the strict FakeSlack of tests/slack_harness.py, so one base URL (SLACK_API_URL) serves both, as
slack.com does: `apps.connections.open` is a Web API method.

Shapes follow docs.slack.dev/apis/events-api/using-socket-mode and the envelopes slack_sdk's own
tests replay (tests/slack_sdk/socket_mode/mock_socket_mode_server.py): `events_api` carries the
whole event_callback plus `retry_attempt`/`retry_reason` (0 and "" on a first delivery),
`slash_commands` the command's form fields and accepts a response payload, `interactive` the
block_actions payload. The server is as strict as Slack about what the app sends back: an ack is
`{"envelope_id", "payload"?}` for an envelope it was sent, once; anything else is a problem
recorded for `verdict()`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.slack_harness import LoopThread

APP_ID = "A0DEPLOYBOT"
TEAM_ID = "T1"
BOT_USER = "UBOT"
APP_TOKEN = "xapp-1-A0DEPLOYBOT-1111111111111-0123456789abcdef0123456789abcdef"
#: headers passed through to the Web API server and back
_FORWARDED = ("content-type", "authorization", "retry-after", "user-agent")


@dataclass
class Ack:
    envelope_id: str
    kind: str
    payload: dict[str, Any] | None
    #: envelope sent -> ack received, seconds (perf_counter)
    latency: float
    connection: int


@dataclass
class Connection:
    number: int
    ticket: str
    ws: web.WebSocketResponse
    opened_at: float
    #: a disconnect (refresh_requested) was sent: no more envelopes go here
    refreshing: bool = False
    closed_at: float | None = None


@dataclass
class _Pending:
    envelope: dict[str, Any]
    sent: float
    connection: int
    done: asyncio.Future[Ack]


@dataclass
class SocketModeServer:
    """One app's Socket Mode endpoint in front of a Web API server (`upstream`)."""

    upstream: str
    app_token: str = APP_TOKEN
    url: str = ""
    #: apps.connections.open answers: "ok" or the error given
    opens: list[str] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    acks: dict[str, Ack] = field(default_factory=dict)
    #: protocol violations by the app (bad acks, unknown tickets...); see verdict()
    problems: list[str] = field(default_factory=list)
    #: accept WebSocket dials but never answer the handshake (a start that hangs); `held` counts them
    hold_handshakes: bool = False
    held: int = 0
    _tickets: dict[str, bool] = field(default_factory=dict)  # ticket -> used
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _changed: asyncio.Event | None = None
    _release: asyncio.Event | None = None
    _session: aiohttp.ClientSession | None = None
    _loop: LoopThread | None = None
    _runner: web.AppRunner | None = None

    # -- lifecycle (from the test thread) ------------------------------------------------------
    def start(self, loop: LoopThread) -> str:
        """Serve on a free local port; returns the base URL (SLACK_API_URL is url + "/api/")."""
        self._loop = loop

        async def start() -> str:
            self._changed, self._release = asyncio.Event(), asyncio.Event()
            self._session = aiohttp.ClientSession(auto_decompress=False)
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/api/apps.connections.open", self._open)
            app.router.add_get("/link/", self._link)
            app.router.add_route("*", "/{tail:.*}", self._proxy)
            self._runner = web.AppRunner(app, shutdown_timeout=1)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            return f"http://127.0.0.1:{port}"

        self.url = str(loop.run(start()))
        return self.url

    def stop(self) -> None:
        async def stop() -> None:
            if self._release is not None:
                self._release.set()
            for conn in self.connections:
                if not conn.ws.closed:
                    await conn.ws.close()
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        self._run(stop())

    def _run(self, coro: Any, timeout: float = 30) -> Any:
        assert self._loop is not None, "start() the server first"
        return self._loop.run(coro, timeout)

    # -- the test's side -----------------------------------------------------------------------
    def send(self, envelope: dict[str, Any], timeout: float = 15.0) -> Ack:
        """Push one envelope to the newest live connection and wait for the app's ack."""
        ack: Ack = self._run(self._send(envelope, timeout), timeout + 5)
        return ack

    def refresh(self, timeout: float = 20.0) -> Connection:
        """Send `disconnect` (refresh_requested) and wait for the app to come back on a new ticket."""
        conn: Connection = self._run(self._refresh(timeout), timeout + 5)
        return conn

    def drop(self, timeout: float = 20.0) -> Connection:
        """Send `disconnect` (refresh_requested), then close that link, as Slack does; no waiting."""
        conn: Connection = self._run(self._drop(timeout), timeout + 5)
        return conn

    def wait_connected(self, count: int = 1, timeout: float = 20.0) -> Connection:
        """Wait until `count` connections have been made in all; returns the newest live one."""
        conn: Connection = self._run(self._wait(lambda: len(self.connections) >= count, timeout), timeout + 5)
        return conn

    def live(self) -> list[Connection]:
        return [c for c in self.connections if not c.ws.closed]

    def verdict(self) -> list[str]:
        """What the app did wrong on the socket, plus envelopes it never acknowledged; resets."""
        problems = list(self.problems)
        problems += [
            f"envelope {eid} ({p.envelope['type']}) never acknowledged" for eid, p in self._pending.items()
        ]
        self.problems.clear()
        return problems

    # -- Web API: apps.connections.open, everything else passed through -------------------------
    async def _open(self, request: web.Request) -> web.Response:
        await request.read()
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if request.method != "POST":
            error = "invalid_request"  # the SDKs POST; Slack wants the token in the header, not the body
        elif not token:
            error = "not_authed"
        elif not token.startswith("xapp-"):
            error = "not_allowed_token_type"  # a bot or user token: only app-level tokens open sockets
        elif token != self.app_token:
            error = "invalid_auth"
        else:
            error = ""
        self.opens.append(error or "ok")
        if error:
            return web.json_response({"ok": False, "error": error})
        ticket = str(uuid.uuid4())
        self._tickets[ticket] = False
        host = request.url.host or "127.0.0.1"
        port = request.url.port
        return web.json_response(
            {"ok": True, "url": f"ws://{host}:{port}/link/?ticket={ticket}&app_id={APP_ID}"}
        )

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED}
        async with self._session.request(
            request.method,
            self.upstream + request.rel_url.path_qs,
            data=await request.read(),
            headers=headers,
        ) as upstream:
            body = await upstream.read()
            back = {k: v for k, v in upstream.headers.items() if k.lower() in _FORWARDED}
            return web.Response(status=upstream.status, body=body, headers=back)

    # -- the WebSocket -------------------------------------------------------------------------
    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if self._tickets.get(ticket) is not False:
            self.problems.append(f"WebSocket opened with an unknown or used ticket {ticket!r}")
            return web.Response(status=401, text="invalid ticket")
        if request.query.get("app_id") != APP_ID:
            self.problems.append(f"WebSocket opened for app {request.query.get('app_id')!r}")
        self._tickets[ticket] = True
        if self.hold_handshakes:
            self.held += 1
            assert self._release is not None
            await self._release.wait()  # until the server stops
            return web.Response(status=503, text="going away")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(len(self.connections) + 1, ticket, ws, time.monotonic())
        self.connections.append(conn)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self.live()),
                    "debug_info": {
                        "host": f"applink-deploybot-test-{conn.number}",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
        )
        self._notify()
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._on_text(conn, str(message.data))
                elif message.type == aiohttp.WSMsgType.BINARY:
                    self.problems.append(f"connection {conn.number}: binary frame (acks are JSON text)")
        finally:
            conn.closed_at = time.monotonic()
            self._notify()
        return ws

    def _on_text(self, conn: Connection, data: str) -> None:
        received = time.perf_counter()
        try:
            ack = json.loads(data)
        except ValueError:
            self.problems.append(f"connection {conn.number}: not JSON: {data[:200]!r}")
            return
        if not isinstance(ack, dict) or not isinstance(ack.get("envelope_id"), str):
            self.problems.append(f"connection {conn.number}: not an ack: {data[:200]!r}")
            return
        extra = set(ack) - {"envelope_id", "payload"}
        if extra:
            self.problems.append(f"ack {ack['envelope_id']}: unexpected keys {sorted(extra)}")
        pending = self._pending.pop(ack["envelope_id"], None)
        if pending is None:
            known = (
                "a second ack for" if ack["envelope_id"] in self.acks else "an ack for an unknown envelope"
            )
            self.problems.append(f"{known} {ack['envelope_id']}")
            return
        payload = ack.get("payload")
        if payload is not None and not isinstance(payload, dict):
            self.problems.append(f"ack {ack['envelope_id']}: payload is not an object")
            payload = None
        if payload is not None and not pending.envelope.get("accepts_response_payload"):
            self.problems.append(
                f"ack {ack['envelope_id']}: payload for a {pending.envelope['type']} envelope"
            )
        done = Ack(
            ack["envelope_id"], pending.envelope["type"], payload, received - pending.sent, conn.number
        )
        self.acks[done.envelope_id] = done
        if not pending.done.done():
            pending.done.set_result(done)

    def _notify(self) -> None:
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, ready: Any, timeout: float) -> Connection:
        deadline = asyncio.get_running_loop().time() + timeout
        while not (ready() and self._current()):
            assert self._changed is not None
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                made = len(self.connections)
                raise AssertionError(
                    f"no Socket Mode connection: {made} made, apps.connections.open: {self.opens}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        current = self._current()
        assert current is not None
        return current

    def _current(self) -> Connection | None:
        live = [c for c in self.live() if not c.refreshing]
        return live[-1] if live else None

    async def _send(self, envelope: dict[str, Any], timeout: float) -> Ack:
        conn = await self._wait(lambda: True, timeout)
        done: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        text = json.dumps(envelope)
        sent = time.perf_counter()
        self._pending[envelope["envelope_id"]] = _Pending(envelope, sent, conn.number, done)
        await conn.ws.send_str(text)
        try:
            return await asyncio.wait_for(done, timeout)
        except TimeoutError:
            raise AssertionError(
                f"no ack for {envelope['type']} envelope {envelope['envelope_id']}"
            ) from None

    async def _disconnect(self, timeout: float) -> Connection:
        old = await self._wait(lambda: True, timeout)
        old.refreshing = True
        await old.ws.send_str(
            json.dumps(
                {
                    "type": "disconnect",
                    "reason": "refresh_requested",
                    "debug_info": {"host": f"applink-deploybot-test-{old.number}"},
                }
            )
        )
        return old

    async def _drop(self, timeout: float) -> Connection:
        old = await self._disconnect(timeout)
        await asyncio.sleep(0.5)
        if not old.ws.closed:
            await old.ws.close()
        return old

    async def _refresh(self, timeout: float) -> Connection:
        before = len(self.connections)
        old = await self._disconnect(timeout)
        new = await self._wait(lambda: len(self.connections) > before, timeout)
        if not old.ws.closed:  # Slack drops the old link shortly after; so do we, if the app did not
            await old.ws.close()
        return new


# ---------------------------------------------------------------- envelopes, as Slack sends them


def _envelope(kind: str, payload: dict[str, Any], *, accepts_response_payload: bool) -> dict[str, Any]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "payload": payload,
        "type": kind,
        "accepts_response_payload": accepts_response_payload,
    }


def slash_command(
    text: str, *, user: str, response_url: str, channel: str = "C1", command: str = "/deploybot"
) -> dict[str, Any]:
    """`slash_commands`: the command's fields (all strings, as in the HTTP form), a response allowed."""
    payload = {
        "token": "verification-token",
        "team_id": TEAM_ID,
        "team_domain": "deploybot-test",
        "channel_id": channel,
        "channel_name": "oncall",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "response_url": response_url,
        "trigger_id": f"{int(time.time())}.1111.{uuid.uuid4().hex}",
    }
    return _envelope("slash_commands", payload, accepts_response_payload=True)


def events_api(
    event: dict[str, Any], *, event_id: str, retry_attempt: int = 0, retry_reason: str = ""
) -> dict[str, Any]:
    """`events_api`: the full event_callback; a first delivery says retry_attempt 0, retry_reason ""."""
    context = {"et": event.get("type"), "tid": TEAM_ID, "aid": APP_ID, "cid": event.get("channel")}
    payload = {
        "token": "verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("="),
    }
    envelope = _envelope("events_api", payload, accepts_response_payload=False)
    envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
    return envelope


def _message_event(
    kind: str, text: str, *, user: str, channel: str, ts: str, thread_ts: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": kind,
        "text": text,
        "user": user,
        "ts": ts,
        "team": TEAM_ID,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": uuid.uuid4().hex[:4],
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def app_mention(
    text: str, *, user: str, channel: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    return _message_event(
        "app_mention", f"<@{BOT_USER}> {text}", user=user, channel=channel, ts=ts, thread_ts=thread_ts
    )


def direct_message(
    text: str, *, user: str, channel: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    event = _message_event("message", text, user=user, channel=channel, ts=ts, thread_ts=thread_ts)
    return event | {"channel_type": "im"}


def block_actions(
    *,
    user: str,
    action_id: str,
    value: str,
    response_url: str,
    channel: str = "C1",
    message_ts: str = "1700000000.000001",
    text: str = "",
) -> dict[str, Any]:
    """`interactive` with a block_actions payload: a button click on a message in `channel`."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(time.time())}.1111.{uuid.uuid4().hex}",
        "team": {"id": TEAM_ID, "domain": "deploybot-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "oncall"},
        "message": {
            "bot_id": "BBOT",
            "type": "message",
            "text": text,
            "user": BOT_USER,
            "ts": message_ts,
            "app_id": APP_ID,
            "blocks": [],
            "team": TEAM_ID,
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": uuid.uuid4().hex[:5],
                "text": {"type": "plain_text", "text": action_id.rpartition(":")[2], "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    # captured block_actions envelopes say false (slack_sdk's tests); Slack's docs page shows true
    return _envelope("interactive", payload, accepts_response_payload=False)


# ---------------------------------------------------------------- `deploybot serve`, as a real process


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServeProcess:
    """`deploybot serve` in its own process; stderr (JSON log lines) goes to a file, never a full pipe."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @classmethod
    def start(cls, tmp: Path, env: dict[str, str], config: str = "environments: {}\n") -> ServeProcess:
        tmp.mkdir(parents=True, exist_ok=True)
        config_path = tmp / "deploybot.yaml"
        config_path.write_text(config)
        port = free_port()
        full = {
            **os.environ,
            "PORT": str(port),
            "DEPLOYBOT_DATA_DIR": str(tmp / "data"),
            "DEPLOYBOT_LOG_FORMAT": "json",
            "SLACK_SIGNING_SECRET": "",
            "DEPLOYBOT_SLACK_MODE": "",
            **env,
        }
        script = Path(sys.executable).with_name("deploybot")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
        log_path = tmp / f"serve-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "serve", "--config", str(config_path)],
                env=full,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(process, port, log_path)

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> tuple[int, str]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve never got ready (exit {self.process.poll()}):\n{self.output()}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"serve did not exit within {timeout} s:\n{self.output()[-3000:]}") from None

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as Kubernetes sends it; `timeout` is the pod's grace period."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)
