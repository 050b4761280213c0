"""slack-bolt wiring: every listener is ack -> intent -> runtime -> one reply, in a thread.

Slack wants an acknowledgement within 3 seconds; listeners ack first and answer afterwards
(response_url for commands, chat.postMessage / chat.update for mentions and DMs), so a slow
cluster never turns into a Slack timeout.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import intents
from bot.domain.environments import Environment
from bot.domain.incidents import Post
from bot.inspection import InspectResult
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
        if _retry_number(request.headers) > 0 and body.get("type") == "event_callback":
            runtime.metrics.inc("deploybot_requests_total", kind="retry_skipped")
            from slack_bolt.response import BoltResponse

            return BoltResponse(status=200, body="")
        return await next()

    @app.command("/deploybot")
    async def on_command(ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        await ack()
        runtime.metrics.inc("deploybot_requests_total", kind="command")
        intent = runtime.intent_of_command(str(command.get("text") or ""))
        message = await _answer(runtime, intent, user=str(command.get("user_id")), thread_ts=None)
        public = isinstance(intent, intents.Inspect | intents.Orders)
        head, replies = blocks.split_thread(message)
        channel = str(command.get("channel_id") or "")
        if public and channel:
            # posted ourselves (response_url gives no ts): its thread then knows the environment for
            # follow-ups ("那怎么回滚?") like a mention's does, and big inspections continue there
            posted = await _send(runtime, _web(client.chat_postMessage, channel=channel), head)
            if posted and posted.get("ts"):
                runtime.remember(str(posted["ts"]), getattr(intent, "environment", ""))
                in_thread = _web(client.chat_postMessage, channel=channel, thread_ts=posted["ts"])
                for reply in replies:
                    await _send(runtime, in_thread, reply)
                return
        response_type = "in_channel" if public else "ephemeral"
        await _send(runtime, _webhook(respond, response_type=response_type), head)
        for reply in replies:  # not in the channel: the rest as further responses, in order
            await _send(
                runtime, _webhook(respond, response_type=response_type, replace_original=False), reply
            )

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

    @app.action({"action_id": blocks.TOPIC_ID})
    async def on_topic(ack: Any, action: dict[str, Any], respond: Any) -> None:
        await ack()
        private = _webhook(respond, response_type="ephemeral", replace_original=False)
        head, replies = blocks.split_thread(runtime.topic(str(action.get("value", ""))))
        for message in (head, *replies):
            await _send(runtime, private, message)

    @app.action("deploybot:feedback_up")
    async def on_up(ack: Any, action: dict[str, Any], body: dict[str, Any], respond: Any) -> None:
        await ack()
        text = runtime.feedback(str(action.get("value", "")), _user(body), "up")
        await _send(
            runtime, _webhook(respond, response_type="ephemeral", replace_original=False), _text(text)
        )

    @app.action("deploybot:feedback_down")
    async def on_down(ack: Any, action: dict[str, Any], body: dict[str, Any], respond: Any) -> None:
        await ack()
        text = runtime.feedback(str(action.get("value", "")), _user(body), "down")
        await _send(
            runtime, _webhook(respond, response_type="ephemeral", replace_original=False), _text(text)
        )

    @app.action(re.compile(rf"^({blocks.INCIDENT_ACK}|{blocks.INCIDENT_MUTE})$"))
    async def on_incident(
        ack: Any, action: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        user = _user(body)
        channel = str((body.get("channel") or {}).get("id") or "")
        message_ts = str((body.get("container") or {}).get("message_ts") or "")
        what = "mute" if action.get("action_id") == blocks.INCIDENT_MUTE else "ack"

        groups_of = _groups_lookup(client, runtime)

        done, text = await runtime.incident_click(str(action.get("value", "")), user, what, groups_of)
        if done:
            in_thread = _web(client.chat_postMessage, channel=channel, thread_ts=message_ts or None)
            await _send(runtime, in_thread, blocks.text_reply(blocks.note(text)))
        else:
            private = _web(client.chat_postEphemeral, channel=channel, user=user)
            await _send(runtime, private, blocks.text_reply(blocks.people(f":no_entry: {text}")))

    @app.action({"action_id": blocks.ACTION_ID})
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
        # replies go to the thread the button is in (a thread reply's own ts is not a thread)
        thread_ts = str((body.get("message") or {}).get("thread_ts") or message_ts) or None

        groups_of = _groups_lookup(client, runtime)

        clicked = await runtime.click(ref, user, groups_of)
        if clicked.kind in ("refused", "failed"):
            private = _web(client.chat_postEphemeral, channel=channel, user=user)
            await _send(runtime, private, blocks.text_reply(blocks.people(f":no_entry: {clicked.text}")))
        elif clicked.kind == "read":
            named = re.match(r"^deploybot:act:([a-z_]+)", str(action.get("action_id", "")))
            name = named.group(1) if named else "output"
            await _deliver_read(client, channel, thread_ts, name, clicked.text, runtime)
        else:
            after = await runtime.after_change(clicked, user)
            head, replies = blocks.split_thread(after.inspection)
            await _send(runtime, _webhook(respond, replace_original=True), head)
            in_thread = _web(client.chat_postMessage, channel=channel, thread_ts=thread_ts)
            for reply in replies:
                await _send(runtime, in_thread, reply)
            # one line in the channel (broadcast from the thread when the message is in one), the
            # exact change in that line's own thread
            # exact change in that line's own thread; on an incident's message, both go to the
            # incident's thread (an action taken is part of its story, and the channel stays quiet)
            on_incident = bool(message_ts) and runtime.incident_ts(clicked.environment) == message_ts
            in_message_thread = on_incident or bool((body.get("message") or {}).get("thread_ts"))
            broadcast = {} if on_incident else {"reply_broadcast": True}
            where = (
                _web(client.chat_postMessage, channel=channel, thread_ts=thread_ts, **broadcast)
                if in_message_thread
                else _web(client.chat_postMessage, channel=channel)
            )
            posted = await _send(runtime, where, after.result)
            result_ts = (posted or {}).get("ts") if not in_message_thread else thread_ts
            if result_ts:
                details = _web(client.chat_postMessage, channel=channel, thread_ts=result_ts)
                await _send(runtime, details, after.details)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed: %s (%s)", type(error).__name__, error)

    return app


def _groups_lookup(
    client: AsyncWebClient, runtime: Runtime
) -> Callable[[str, tuple[str, ...]], Awaitable[tuple[str, ...]]]:
    """Which of the given user-groups a member is in (usergroups.users.list), for operator checks."""

    async def groups_of(member: str, group_ids: tuple[str, ...]) -> tuple[str, ...]:
        found = []
        for group in group_ids:
            reply = await _safe(client.usergroups_users_list(usergroup=group), runtime)
            if reply and member in (reply.get("users") or []):
                found.append(group)
        return tuple(found)

    return groups_of


def _base_url(api_url: str | None) -> str:
    if not api_url:
        return "https://slack.com/api/"
    return api_url if api_url.endswith("/") else api_url + "/"


def _retry_number(headers: Any) -> int:
    """Which delivery this is: 0 the first, 1+ a retry.

    HTTP mode only sends `X-Slack-Retry-Num` on retries, but Socket Mode copies every
    envelope's `retry_attempt` into it (slack_bolt.adapter.socket_mode.internals.build_headers),
    so a first delivery arrives as "0". Bolt normalizes header values to lists.
    """
    value = headers.get("x-slack-retry-num") if headers else None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return int(str(value).strip()) if value is not None else 0
    except ValueError:
        return 0


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


#: Slack refused the message itself (not the channel, token...): a plain-text version may get through
CONTENT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_payload",
    }
)
#: sends one message payload somewhere (chat.postMessage into a thread, a response_url...)
Send = Callable[[dict[str, Any]], Awaitable[Any]]


class SlackRefused(Exception):
    """Slack answered with an error: which method, Slack's error code, and its reasons (`errors`)."""

    def __init__(self, method: str, error: str, errors: list[str]) -> None:
        super().__init__(f"{method}: {error}")
        self.method, self.error, self.errors = method, error, errors


def _refusal(exc: SlackApiError) -> SlackRefused:
    response = exc.response
    data = response.data if response is not None and isinstance(response.data, dict) else {}
    method = str(getattr(response, "api_url", "") or "").rstrip("/").rpartition("/")[2] or "web_api"
    reasons = data.get("errors") or (data.get("response_metadata") or {}).get("messages") or []
    return SlackRefused(method, str(data.get("error") or "unknown"), [str(r) for r in reasons])


def _record(runtime: Runtime | None, refused: SlackRefused) -> None:
    """Every refusal is an error in the log, with Slack's reasons, and a count in /metrics."""
    reasons = "; ".join(refused.errors[:10])
    log.error("Slack refused %s: %s%s", refused.method, refused.error, f" ({reasons})" if reasons else "")
    if runtime is not None:
        label = re.sub(r"[^a-z0-9_]", "_", refused.error.lower())[:60] or "unknown"
        runtime.metrics.inc("deploybot_slack_errors_total", method=refused.method, error=label)


async def _safe(call: Awaitable[Any], runtime: Runtime | None = None) -> Any:
    """Slack API errors (channel_not_found, not_in_channel...) are logged and counted, never crash a
    listener; the call's response, or None."""
    try:
        return await call
    except SlackApiError as exc:
        _record(runtime, _refusal(exc))
        return None


async def _send(runtime: Runtime, send: Send, message: dict[str, Any]) -> Any:
    """Send a message; when Slack refuses its content, a short plain-text version instead, so the
    user is never left without an answer (or with the ":mag:" placeholder). None when nothing went."""
    message, replies = blocks.split_thread(message)
    if replies:  # a caller bug, not Slack's: say so rather than crash on an unknown argument
        log.error("%d thread replies were not delivered (split_thread first)", len(replies))
    try:
        return await send(message)
    except SlackRefused as refused:
        _record(runtime, refused)
        if refused.error not in CONTENT_ERRORS:
            return None
        error = refused.error
    try:
        return await send(blocks.fallback(message, error))
    except SlackRefused as again:
        _record(runtime, again)
        return None


def _web(method: Callable[..., Awaitable[Any]], **fixed: Any) -> Send:
    """A Web API method (client.chat_postMessage...) as a Send, with its fixed arguments."""

    async def send(message: dict[str, Any]) -> Any:
        try:
            return await method(**fixed, **message)
        except SlackApiError as exc:
            raise _refusal(exc) from exc

    return send


def _webhook(respond: Any, **fixed: Any) -> Send:
    """A response_url as a Send. Slack answers a refused payload there like an incoming webhook
    (HTTP 400, the error code as plain text), and bolt's respond() returns that instead of raising."""

    async def send(message: dict[str, Any]) -> Any:
        reply = await respond(**message, **fixed)
        status, body = int(getattr(reply, "status_code", 200)), str(getattr(reply, "body", "") or "").strip()
        error = None
        if status != 200:
            error = body if re.fullmatch(r"[a-z_]{1,60}", body) else f"http_{status}"
        elif body.startswith("{"):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = {}
            if isinstance(parsed, dict) and parsed.get("ok") is False:
                error = str(parsed.get("error") or "unknown")
        if error:
            raise SlackRefused("response_url", error, [])
        return reply

    return send


def _text(text: str) -> dict[str, Any]:
    """A one-line reply of ours as a message payload (escaped like everything else)."""
    return {"text": blocks.md(text)}


#: longer read-only output (logs, events) goes to the thread as a file, not a clipped message
MAX_INLINE_OUTPUT = blocks.MAX_SECTION - 8


async def _deliver_read(
    client: AsyncWebClient,
    channel: str,
    thread_ts: str | None,
    name: str,
    text: str,
    runtime: Runtime | None = None,
) -> None:
    """Short output as a message in the thread; long output (a log tail) as a file in the thread.

    files_upload_v2 is files.getUploadURLExternal -> upload -> files.completeUploadExternal; if
    any step fails (no files:write scope, upload refused) the thread still gets the clipped tail.
    """
    if len(text) > MAX_INLINE_OUTPUT:
        try:
            await client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=text,
                filename=f"{name}.txt",
                title=f"deploybot {name}",
                initial_comment=f"{name}: {len(text.splitlines())} lines",
            )
            return
        except SlackClientError as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) and exc.response else exc
            log.warning("file upload failed, posting the tail instead: %s", reason)
    await _safe(
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, **blocks.text_reply(text, code=True)),
        runtime,
    )


async def _answer(
    runtime: Runtime, intent: intents.Intent, *, user: str, thread_ts: str | None
) -> dict[str, Any]:
    """The reply to an intent; a bug or an unexpected failure still gets the user a short answer."""
    try:
        return await _reply_to(runtime, intent, user=user, thread_ts=thread_ts)
    except Exception:
        log.exception("answering %s failed", type(intent).__name__)
        runtime.metrics.inc("deploybot_requests_total", kind="failed")
        return blocks.text_reply(":warning: that went wrong on my side; it is logged. Try again in a minute.")


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
    direct = event.get("channel_type") == "im"
    # in a channel the reply goes to the mention's thread; a DM is answered in the DM itself (in a
    # thread only when the question was asked in one), and the DM as a whole is the conversation
    thread_ts = str(event.get("thread_ts") or ("" if direct else event.get("ts")) or "")
    context_key = thread_ts or channel
    intent = runtime.intent_of_message(str(event.get("text") or ""), context_key, channel if direct else None)
    in_thread = _web(client.chat_postMessage, channel=channel, thread_ts=thread_ts or None)
    placeholder = None
    if isinstance(intent, intents.Inspect | intents.Orders | intents.Propose):
        placeholder = await _send(runtime, in_thread, _text(f":mag: {getattr(intent, 'environment', '')} …"))
    message = await _answer(runtime, intent, user=str(event.get("user", "")), thread_ts=context_key)
    head, replies = blocks.split_thread(message)
    sent = None
    if placeholder and placeholder.get("ts"):
        sent = await _send(runtime, _web(client.chat_update, channel=channel, ts=placeholder["ts"]), head)
    if sent is None:  # no placeholder, or it could not be updated: a new reply in the thread
        await _send(runtime, in_thread, head)
    for reply in replies:
        await _send(runtime, in_thread, reply)


class SlackPoster:
    """How the on-call engine's decisions reach the environment's channel: the root message is the
    inspection itself (with its buttons), edited in place; replies go to its thread."""

    def __init__(self, runtime: Runtime, client: AsyncWebClient) -> None:
        self.runtime, self.client = runtime, client

    def _message(self, env: Environment, result: InspectResult, post: Post) -> dict[str, Any]:
        status = post.text.splitlines()[0] if post.kind == "resolve" else ""
        message = self.runtime.render(env, result, done_note=status)
        head, _ = blocks.split_thread(message)  # the rest of a huge incident stays in the thread
        if post.kind == "resolve":
            return head
        return blocks.with_incident_buttons(head, self.runtime.incident_value(env))

    async def open(self, env: Environment, result: InspectResult, post: Post) -> str | None:
        channel = str(env.channel)
        message = self.runtime.render(env, result)
        head, replies = blocks.split_thread(message)
        head = blocks.with_incident_buttons(head, self.runtime.incident_value(env))
        posted = await _send(self.runtime, _web(self.client.chat_postMessage, channel=channel), head)
        ts = str(posted["ts"]) if posted and posted.get("ts") else None
        if ts:
            self.runtime.remember(ts, env.name)  # follow-ups in the incident's thread know the environment
            in_thread = _web(self.client.chat_postMessage, channel=channel, thread_ts=ts)
            for reply in replies:
                await _send(self.runtime, in_thread, reply)
        return ts

    async def update(self, env: Environment, ts: str, result: InspectResult, post: Post) -> None:
        edit = _web(self.client.chat_update, channel=str(env.channel), ts=ts)
        await _send(self.runtime, edit, self._message(env, result, post))

    async def reply(self, env: Environment, ts: str, text: str) -> None:
        in_thread = _web(self.client.chat_postMessage, channel=str(env.channel), thread_ts=ts)
        await _send(self.runtime, in_thread, blocks.text_reply(blocks.note(text)))

    async def notice(self, env: Environment, result: InspectResult, post: Post) -> None:
        """A release order changed: one line, with the order buttons that apply now (resume,
        close, roll back)."""
        line = f":package: {env.name}: release order {post.text}"
        buttons = self.runtime.order_buttons(env, result.snapshot, post.target) if post.target else []
        message = blocks.result_lines(line, buttons)
        await _send(self.runtime, _web(self.client.chat_postMessage, channel=str(env.channel)), message)
