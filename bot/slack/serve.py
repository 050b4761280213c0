"""`deploybot serve`: HTTP (/slack/events + health + metrics) or Socket Mode.

Settings come from the environment and are checked before anything starts: a missing token
is one clear line naming the variable, not a stack trace at the first request.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import logs
from bot.adapters.action_store import ActionStore
from bot.adapters.slack_store import SlackStore
from bot.config import Settings
from bot.domain.environments import Config
from bot.errors import ConfigError
from bot.knowledge_base import KnowledgeBase
from bot.slack.app import build_app
from bot.slack.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str | None
    port: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackSettings:
        missing = [] if env.get("SLACK_BOT_TOKEN") else ["SLACK_BOT_TOKEN"]
        socket_mode = bool(env.get("SLACK_APP_TOKEN"))
        if not socket_mode and not env.get("SLACK_SIGNING_SECRET"):
            missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
        if missing:
            raise ConfigError([f"missing environment variable(s): {', '.join(missing)}"])
        port = env.get("PORT", "3000")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError([f"PORT: {port!r} is not a port number"])
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"],
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=env.get("SLACK_API_URL") or None,
            port=int(port),
        )


def make_runtime(settings: Settings, config: Config) -> Runtime:
    return Runtime(
        kb=KnowledgeBase.open(settings),
        config=config,
        action_store=ActionStore(settings.state_db),
        slack_store=SlackStore(settings.state_db),
    )


def web_app(app: AsyncApp, runtime: Runtime) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        # listener tasks bolt starts from here inherit the id (contextvars are copied into tasks)
        logs.request_id.set(request.headers.get("X-Slack-Request-Timestamp", "") + "-" + uuid.uuid4().hex[:8])
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, KeyError, TypeError) as exc:  # bolt parses the body while building the request
            log.warning("malformed Slack payload rejected: %s", type(exc).__name__)
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


async def run(settings: Settings, slack: SlackSettings, config: Config) -> None:
    runtime = make_runtime(settings, config)
    app = build_app(
        runtime, token=slack.bot_token, signing_secret=slack.signing_secret, api_url=slack.api_url
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Health, readiness and metrics are served in both modes (the chart probes them);
    # /slack/events only matters in HTTP mode.
    runner = web.AppRunner(web_app(app, runtime), shutdown_timeout=20)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", slack.port).start()
    handler = None
    if slack.app_token:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(app, slack.app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("deploybot connected to Slack in Socket Mode; health and metrics on :%d", slack.port)
    else:
        log.info("deploybot listening on :%d (/slack/events, /healthz, /readyz, /metrics)", slack.port)
    await stop.wait()
    if handler is not None:
        await handler.close_async()  # type: ignore[no-untyped-call]
    await runner.cleanup()  # stops accepting, finishes in-flight HTTP requests
    await drain(runtime)
    runtime.close()


async def drain(runtime: Runtime, timeout: float = 25.0) -> None:
    """Actions started by a click run after Slack's ack; let them finish before the pod goes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while runtime.inflight and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    if runtime.inflight:
        log.warning("shutting down with %d action(s) still running", runtime.inflight)
