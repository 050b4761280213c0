"""slack-bolt wiring: every listener is ack -> intent -> runtime -> one reply, in a thread.

Slack wants an acknowledgement within 3 seconds; listeners ack first and answer afterwards
(response_url for commands, chat.postMessage / chat.update for mentions and DMs), so a slow
cluster never turns into a Slack timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import intents
from bot.slack import blocks
from bot.slack.runtime import Runtime

log = logging.getLogger(__name__)


def build_app(runtime: Runtime, *, token: str, signing_secret: str | None, api_url: str | None) -> AsyncApp:
    client = AsyncWebClient(token=token, base_url=_base_url(api_url))
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        process_before_response=False,
        request_verification_enabled=signing_secret is not None,
    )

    @app.middleware
    async def skip_retried_events(
        body: dict[str, Any], request: Any, next: Callable[[], Awaitable[None]]
    ) -> Any:
        """A retried event was already handled (we ack at once; retries mean Slack lost the ack)."""
        retry = request.headers.get("x-slack-retry-num")
        if retry and body.get("type") == "event_callback":
            runtime.metrics.inc("deploybot_requests_total", kind="retry_skipped")
            from slack_bolt.response import BoltResponse

            return BoltResponse(status=200, body="")
        return await next()

    @app.command("/deploybot")
    async def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        runtime.metrics.inc("deploybot_requests_total", kind="command")
        intent = runtime.intent_of_command(str(command.get("text") or ""))
        message = await _reply_to(runtime, intent, user=str(command.get("user_id")), thread_ts=None)
        public = isinstance(intent, intents.Inspect | intents.Orders)
        await respond(**message, response_type="in_channel" if public else "ephemeral")

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        runtime.metrics.inc("deploybot_requests_total", kind="mention")
        await _converse(runtime, client, event)

    @app.event("message")
    async def on_message(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
            return  # channels speak to us by mention; edits, joins and our own messages are not questions
        runtime.metrics.inc("deploybot_requests_total", kind="dm")
        await _converse(runtime, client, event)

    @app.action("deploybot:topic")
    async def on_topic(ack: Any, action: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond(
            **runtime.topic(str(action.get("value", ""))), response_type="ephemeral", replace_original=False
        )

    @app.action("deploybot:feedback_up")
    async def on_up(ack: Any, action: dict[str, Any], body: dict[str, Any], respond: Any) -> None:
        await ack()
        text = runtime.feedback(str(action.get("value", "")), _user(body), "up")
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action("deploybot:feedback_down")
    async def on_down(ack: Any, action: dict[str, Any], body: dict[str, Any], respond: Any) -> None:
        await ack()
        text = runtime.feedback(str(action.get("value", "")), _user(body), "down")
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action({"action_id": _ACTION_ID})
    async def on_click(
        ack: Any, action: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()
        runtime.metrics.inc("deploybot_requests_total", kind="click")
        ref, user = str(action.get("value", "")), _user(body)
        channel = str(
            (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or ""
        )
        message_ts = str((body.get("container") or {}).get("message_ts") or "")

        async def groups_of(member: str, group_ids: tuple[str, ...]) -> tuple[str, ...]:
            found = []
            for group in group_ids:
                reply = await _safe(client.usergroups_users_list(usergroup=group))
                if reply and member in (reply.get("users") or []):
                    found.append(group)
            return tuple(found)

        kind, text = await runtime.click(ref, user, groups_of)
        if kind in ("refused", "failed"):
            await _safe(client.chat_postEphemeral(channel=channel, user=user, text=f":no_entry: {text}"))
        elif kind == "read":
            await _safe(
                client.chat_postMessage(
                    channel=channel, thread_ts=message_ts or None, **blocks.text_reply(text, code=True)
                )
            )
        else:
            env = runtime.environment_of(ref)
            fresh = await runtime.inspect(env, done_note=text) if env else blocks.text_reply(text)
            await respond(**fresh, replace_original=True)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed: %s (%s)", type(error).__name__, error)

    return app


_ACTION_ID = __import__("re").compile(r"^deploybot:act:[a-z_]+$")


def _base_url(api_url: str | None) -> str:
    if not api_url:
        return "https://slack.com/api/"
    return api_url if api_url.endswith("/") else api_url + "/"


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


async def _safe(call: Awaitable[Any]) -> Any:
    """Slack API errors (channel_not_found, not_in_channel...) are logged, never crash a listener."""
    try:
        return await call
    except SlackApiError as exc:
        log.warning("Slack API call failed: %s", exc.response.get("error") if exc.response else exc)
        return None


async def _reply_to(
    runtime: Runtime, intent: intents.Intent, *, user: str, thread_ts: str | None
) -> dict[str, Any]:
    if isinstance(intent, intents.Help):
        return runtime.help()
    if isinstance(intent, intents.Ask):
        return runtime.answer(intent.question, user)
    if isinstance(intent, intents.NeedsEnvironment):
        return runtime.needs_environment(intent)
    if isinstance(intent, intents.Inspect):
        runtime.remember(thread_ts, intent.environment)
        return await runtime.inspect(intent.environment)
    if isinstance(intent, intents.Orders):
        runtime.remember(thread_ts, intent.environment)
        return await runtime.orders(intent.environment)
    if isinstance(intent, intents.Audit):
        return runtime.audit(intent.environment)
    return await runtime.propose(intent)


async def _converse(runtime: Runtime, client: AsyncWebClient, event: dict[str, Any]) -> None:
    """Mentions and DMs: reply in the thread; a slow answer first says so, then updates in place."""
    channel = str(event.get("channel", ""))
    thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
    intent = runtime.intent_of_message(str(event.get("text") or ""), thread_ts)
    placeholder = None
    if isinstance(intent, intents.Inspect | intents.Orders | intents.Propose):
        placeholder = await _safe(
            client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=f":mag: {getattr(intent, 'environment', '')} …"
            )
        )
    message = await _reply_to(runtime, intent, user=str(event.get("user", "")), thread_ts=thread_ts)
    if placeholder and placeholder.get("ts"):
        await _safe(client.chat_update(channel=channel, ts=placeholder["ts"], **message))
    else:
        await _safe(client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message))
