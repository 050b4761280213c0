"""`deploybot serve`: HTTP (/slack/events + health + metrics) or Socket Mode.

Settings come from the environment and are checked before anything starts: a missing token
is one clear line naming the variable, not a stack trace at the first request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot import logs, oncall
from bot.adapters.action_store import ActionStore
from bot.adapters.slack_store import SlackStore
from bot.adapters.state_db import StateDB
from bot.adapters.watch_cache import ChangeCallback
from bot.config import Settings
from bot.domain.environments import Config
from bot.domain.snapshot import Obj
from bot.errors import ConfigError, DeploybotError
from bot.knowledge_base import KnowledgeBase
from bot.slack.app import build_app
from bot.slack.button_values import ButtonSigner
from bot.slack.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")


#: DEPLOYBOT_SLACK_MODE values (the chart sets it from its `mode` value)
MODES = ("http", "socket")
#: SIGTERM to exit, at most: inside the chart's terminationGracePeriodSeconds (30 s)
SHUTDOWN_BUDGET = 25.0
#: how long the first Socket Mode connection may take before serve gives up (and exits non-zero)
SOCKET_CONNECT_TIMEOUT = 30.0


class SlackStartupError(DeploybotError):
    """Slack refused a token, or could not be reached, at startup: exit instead of retrying forever."""


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str | None
    port: int
    #: "http" (signed requests on /slack/events) or "socket" (Socket Mode, no public URL)
    mode: str = "http"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackSettings:
        """DEPLOYBOT_SLACK_MODE picks the mode; unset, Socket Mode when SLACK_APP_TOKEN is set, else HTTP."""
        app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
        raw_mode = env.get("DEPLOYBOT_SLACK_MODE", "").strip()
        if raw_mode and raw_mode.lower() not in MODES:
            raise ConfigError([f"DEPLOYBOT_SLACK_MODE: {raw_mode!r} is not a mode; use http or socket"])
        mode = raw_mode.lower() or ("socket" if app_token else "http")
        missing = [] if env.get("SLACK_BOT_TOKEN") else ["SLACK_BOT_TOKEN"]
        if mode == "socket" and not app_token:
            missing.append("SLACK_APP_TOKEN (DEPLOYBOT_SLACK_MODE=socket needs an app-level token, xapp-…)")
        if mode == "http" and not env.get("SLACK_SIGNING_SECRET"):
            missing.append(
                "SLACK_SIGNING_SECRET"
                + (" (DEPLOYBOT_SLACK_MODE=http)" if raw_mode else " (or SLACK_APP_TOKEN for Socket Mode)")
            )
        if missing:
            raise ConfigError([f"missing environment variable(s): {', '.join(missing)}"])
        if mode == "socket" and app_token and not app_token.startswith("xapp-"):
            raise ConfigError(["SLACK_APP_TOKEN: not an app-level token (they start with xapp-)"])
        port = env.get("PORT", "3000")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError([f"PORT: {port!r} is not a port number"])
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"],
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=app_token if mode == "socket" else None,
            api_url=env.get("SLACK_API_URL") or None,
            port=int(port),
            mode=mode,
        )


def make_runtime(settings: Settings, config: Config, *, bot_token: str = "") -> Runtime:
    """One state database for the process (SQLite, or PostgreSQL shared by every replica)."""
    state = StateDB.open(settings.state_location)
    return Runtime(
        kb=KnowledgeBase.open(settings),
        config=config,
        action_store=ActionStore(state, via="slack"),
        slack_store=SlackStore(state),
        signer=ButtonSigner.from_secret(settings.button_key, bot_token),
    )


def web_app(app: AsyncApp, runtime: Runtime, *, signing_secret: str | None) -> web.Application:
    """`signing_secret` None (Socket Mode): /slack/events refuses everything with 401.

    bolt's own check logs a refused request's whole body and fails (500) on a non-numeric
    timestamp; ours runs first, so bolt only ever sees signed requests."""
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def events(request: web.Request) -> web.Response:
        """Signed, then well-formed, then bolt: 401 before anything is parsed, 400 for a bad shape."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        raw = await request.read()
        signature = request.headers.get("X-Slack-Signature", "")
        if (
            verifier is None
            or not _TIMESTAMP.match(timestamp)
            or not verifier.is_valid(raw, timestamp, signature)
        ):
            log.warning("unsigned or badly signed request refused (%d bytes, not logged)", len(raw))
            return web.Response(status=401, text="invalid request")
        # listener tasks bolt starts from here inherit the id (contextvars are copied into tasks)
        logs.request_id.set(timestamp + "-" + uuid.uuid4().hex[:8])
        why = _malformed(raw, request.content_type)
        if why is None:
            try:
                bolt_request = await to_bolt_request(request)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:  # bolt parses the body again
                why = type(exc).__name__
        if why is not None:
            log.warning("malformed Slack payload rejected: %s", why)
            return web.Response(status=400, text="malformed Slack payload")
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        ready = runtime.kb.index.ids and runtime.config is not None
        return web.Response(text="ready" if ready else "not ready", status=200 if ready else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=runtime.metrics.render(), content_type="text/plain")

    application = web.Application(client_max_size=1024 * 1024)
    application.router.add_post("/slack/events", events)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    application.router.add_get("/metrics", metrics)
    return application


#: Slack's request timestamp: Unix seconds
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


def _malformed(raw: bytes, content_type: str) -> str | None:
    """Why a signed body is not something Slack sends (an object, or a form whose `payload` is one)."""
    try:
        text = raw.decode("utf-8")
        if content_type == "application/json":
            body = json.loads(text)
            return None if isinstance(body, dict) else "JSON body is not an object"
        form = urllib.parse.parse_qs(text, keep_blank_values=True)
        if "payload" in form:
            payload = json.loads(form["payload"][0])
            return None if isinstance(payload, dict) else "payload is not a JSON object"
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return type(exc).__name__
    return None


async def run(settings: Settings, slack: SlackSettings, config: Config) -> None:
    """Serve until SIGTERM/SIGINT; a rejected token or an unreachable Slack ends it with an error.

    Startup (auth.test, and in Socket Mode apps.connections.open + the first connection) races
    the stop signal, so SIGTERM ends even a start that hangs; shutdown fits SHUTDOWN_BUDGET.
    """
    runtime = make_runtime(settings, config, bot_token=slack.bot_token)
    app = build_app(
        runtime, token=slack.bot_token, signing_secret=slack.signing_secret, api_url=slack.api_url
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Health, readiness and metrics are served in both modes (the chart probes them);
    # /slack/events only matters in HTTP mode.
    started = asyncio.Event()

    @web.middleware
    async def ready_once_started(request: web.Request, handler: Handler) -> web.StreamResponse:
        """/readyz is 503 until the tokens are verified and, in Socket Mode, while no socket is open
        (say the app token was revoked and Slack's refresh cannot be followed)."""
        if request.path == "/readyz":
            if not started.is_set():
                return web.Response(status=503, text="not ready: connecting to Slack")
            if socket is not None and not await socket.client.is_connected():
                return web.Response(status=503, text="not ready: the Socket Mode connection is down")
        return await handler(request)

    application = web_app(app, runtime, signing_secret=slack.signing_secret)
    application.middlewares.append(ready_once_started)
    runner = web.AppRunner(application, shutdown_timeout=5)
    socket: AsyncSocketModeHandler | None = None
    try:
        await runner.setup()
        try:
            await web.TCPSite(runner, "0.0.0.0", slack.port).start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise SlackStartupError(f"cannot listen on port {slack.port} (PORT): {reason}") from None
        stopping = asyncio.ensure_future(stop.wait())
        checked, url = await _unless_stopped(_check_tokens(app, slack), stopping)
        if checked and url is not None and slack.app_token:
            # The handler connects to this URL instead of asking for another (a ticket is single-use);
            # later reconnects (Slack's refresh_requested) call apps.connections.open themselves.
            socket = AsyncSocketModeHandler(app, slack.app_token)
            socket.client.wss_uri = url
            checked, _ = await _unless_stopped(_connect(socket), stopping)
        if not checked:
            log.info("stopped while starting")
            return
        await asyncio.to_thread(runtime.watch)  # inspections and on-call read the caches from now on
        started.set()
        oncall = _start_oncall(runtime, app, stop, settings)
        if socket is not None:
            log.info("deploybot connected to Slack in Socket Mode; health and metrics on :%d", slack.port)
        else:
            log.info("deploybot listening on :%d (/slack/events, /healthz, /readyz, /metrics)", slack.port)
        await stopping
        if oncall is not None:
            await asyncio.wait_for(asyncio.gather(oncall, return_exceptions=True), timeout=5)
    finally:
        await _shutdown(socket, runner, runtime)


def _start_oncall(
    runtime: Runtime, app: AsyncApp, stop: asyncio.Event, settings: Settings
) -> asyncio.Task[None] | None:
    """Environments with a `channel` are watched: incidents open, update and resolve there. In a
    cluster (POD_NAMESPACE set, as the chart does) only the replica holding the Lease posts."""
    from bot.adapters.incident_store import IncidentStore
    from bot.slack.app import SlackPoster

    if not any(env.channel for env in runtime.config.environments.values()):
        return None

    watcher = oncall.OnCall(
        config=runtime.config,
        kb=runtime.kb,
        store=IncidentStore(runtime.action_store.db),
        poster=SlackPoster(runtime, app.client),
        snapshot_of=runtime.snapshot,
        interval=runtime.oncall_interval,
        leader=_leader(settings),
    )
    for env in watcher.watched():
        cache = runtime.caches.get(env.name)
        if cache is not None:
            cache.on_change(_look_sooner(watcher, env.name))
    log.info("on-call: watching %s", ", ".join(env.name for env in watcher.watched()))
    return asyncio.create_task(watcher.run(stop))


def _look_sooner(watcher: oncall.OnCall, environment: str) -> ChangeCallback:
    """A change the cache applied makes the on-call watcher look at its environment now
    (after a short settle), not at the next 15 s round."""

    def changed(kind: str, event_type: str, obj: Obj) -> None:
        if oncall.worth_a_look(kind, obj):
            watcher.changed(environment)

    return changed


async def _unless_stopped(work: Awaitable[T], stopping: asyncio.Future[Any]) -> tuple[bool, T | None]:
    """Run one startup step unless SIGTERM comes first: (True, its result) or (False, None)."""
    task = asyncio.ensure_future(work)
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False, None
    return True, task.result()  # SlackStartupError propagates: the caller's finally shuts down


async def _check_tokens(app: AsyncApp, slack: SlackSettings) -> str | None:
    """The bot token (auth.test), then in Socket Mode the app token: returns the WebSocket URL."""
    await _slack_call(app.client.auth_test(), "SLACK_BOT_TOKEN", "auth.test", app.client.base_url)
    if slack.mode != "socket" or not slack.app_token:
        return None
    opened = await _slack_call(
        app.client.apps_connections_open(app_token=slack.app_token),
        "SLACK_APP_TOKEN",
        "apps.connections.open",
        app.client.base_url,
    )
    return str(opened["url"])


async def _connect(socket: AsyncSocketModeHandler) -> None:
    try:
        await asyncio.wait_for(socket.connect_async(), SOCKET_CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
    except TimeoutError:
        raise SlackStartupError(
            f"could not open the Socket Mode WebSocket within {SOCKET_CONNECT_TIMEOUT:.0f} s "
            "(apps.connections.open answered, the WebSocket did not): check egress to wss-primary.slack.com"
        ) from None


async def _slack_call(call: Awaitable[Any], variable: str, method: str, base_url: str) -> Any:
    """A startup Web API call; a refusal names the token variable, one line, no traceback."""
    try:
        return await call
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response else str(exc)
        raise SlackStartupError(
            f"{variable} was rejected by Slack ({method}: {error}); "
            f"check the token in {variable} (revoked, rotated, or from another app/workspace?)"
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SlackStartupError(
            f"cannot reach the Slack Web API at {base_url} ({method}: {type(exc).__name__}: {exc}); "
            "check egress or SLACK_API_URL"
        ) from None


async def _shutdown(handler: AsyncSocketModeHandler | None, runner: web.AppRunner, runtime: Runtime) -> None:
    """Stop taking work (WebSocket, then HTTP), let running actions finish, all within the budget."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_BUDGET
    if handler is not None:
        try:
            await asyncio.wait_for(handler.close_async(), 5.0)  # type: ignore[no-untyped-call]
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("closing the Socket Mode connection failed: %s", type(exc).__name__)
    await runner.cleanup()  # stops accepting, finishes in-flight HTTP requests (shutdown_timeout)
    await drain(runtime, timeout=max(0.0, deadline - loop.time()))
    runtime.close()


async def drain(runtime: Runtime, timeout: float = 25.0) -> None:
    """Actions started by a click run after Slack's ack; let them finish before the pod goes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while runtime.inflight and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    if runtime.inflight:
        log.warning("shutting down with %d action(s) still running", runtime.inflight)


def _leader(settings: Settings) -> Callable[[], bool] | None:
    if not settings.pod_namespace:
        return None  # not in a cluster: one process, always on call
    import socket

    from bot.adapters.kube import KubeClient
    from bot.adapters.lease import LeaseElector

    try:
        client = KubeClient.connect()
    except DeploybotError as exc:
        log.warning("on-call: no Lease (cannot reach the API of the bot's own cluster: %s); not posting", exc)
        return lambda: False
    identity = settings.pod_name or socket.gethostname()
    elector = LeaseElector(client, settings.pod_namespace, identity, duration=45)  # 3 looks of 15 s
    return elector.try_acquire
