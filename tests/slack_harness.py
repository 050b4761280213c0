"""Slack as the tests see it: a local Web API server that records calls, signed requests, and
deploybot's own HTTP server running for real on a local port."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


class LoopThread:
    """An asyncio loop in a daemon thread: servers live there, tests stay synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@dataclass
class FakeSlack:
    """Speaks enough of the Slack Web API; remembers every call; can be told to fail."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: method -> queued (status, headers, json) answers used before the normal one
    scripted: dict[str, list[tuple[int, dict[str, str], dict[str, Any]]]] = field(default_factory=dict)
    url: str = ""
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        if request.content_type == "application/json":
            body = json.loads(raw) if raw.strip() else {}
        else:
            body = dict(await request.post())
        self.calls.append((method, body))
        if self.scripted.get(method):
            status, headers, payload = self.scripted[method].pop(0)
            return web.json_response(payload, status=status, headers=headers)
        if method == "auth.test":
            if request.headers.get("Authorization") == "Bearer xoxb-broken":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1"})
        if method == "usergroups.users.list":
            return web.json_response({"ok": True, "users": ["U0GROUPIE"]})
        if method.startswith("response/"):
            return web.json_response({"ok": True})
        ts = f"1700000000.{next(self._ts):06d}"
        return web.json_response({"ok": True, "channel": body.get("channel", "C1"), "ts": ts})

    def named(self, method: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.named(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got {[name for name, _ in self.calls]}")


def start_fake_slack(loop: LoopThread) -> tuple[FakeSlack, web.AppRunner]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_route("*", "/api/{method:.+}", fake.handle)
    app.router.add_route("*", "/{method:response/.+}", fake.handle)
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    port = loop.run(start())
    fake.url = f"http://127.0.0.1:{port}"
    return fake, runner


def serve_app(loop: LoopThread, make_app: Callable[[], web.Application]) -> tuple[str, web.AppRunner]:
    async def start() -> tuple[str, web.AppRunner]:
        runner = web.AppRunner(make_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}", runner

    result: tuple[str, web.AppRunner] = loop.run(start())
    return result


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


@dataclass
class Reply:
    status: int
    body: str
    seconds: float


def post(url: str, body: str, headers: dict[str, str]) -> Reply:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.read().decode(), time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode(), time.monotonic() - started)


def get(url: str) -> Reply:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return Reply(response.status, response.read().decode(), time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode(), time.monotonic() - started)


def command_body(text: str, *, user: str, response_url: str, command: str = "/deploybot") -> str:
    return urllib.parse.urlencode(
        {
            "token": "x",
            "team_id": "T1",
            "channel_id": "C1",
            "channel_name": "oncall",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "api_app_id": "A1",
        }
    )


def event_body(event: dict[str, Any], *, event_id: str = "Ev1") -> str:
    return json.dumps(
        {
            "token": "x",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
        }
    )


def click_body(
    *, user: str, action_id: str, value: str, response_url: str, message_ts: str = "1700000000.000001"
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "token": "x",
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": "C1", "is_ephemeral": False},
        "channel": {"id": "C1", "name": "oncall"},
        "message": {"ts": message_ts, "text": "", "blocks": []},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
