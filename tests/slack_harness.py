"""Slack as the tests see it: a local Web API server as strict as Slack, signed requests, and
deploybot's own HTTP server running for real on a local port.

The server refuses what Slack refuses (invalid Block Kit, limits, missing arguments, bad tokens),
in Slack's own error shape, and records every refusal: a test that imports
`slack_rejections_checked` fails when the server refused something the test did not announce
with `FakeSlack.expect_rejection`. `python -m pytest -p tests.slack_shapes` prints how many
distinct message shapes (block-type sequences) the server checked during the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
#: the workspace's valid bot tokens; "xoxb-good" is the doctor test's (tests/test_ship.py)
TOKENS = frozenset({BOT_TOKEN, "xoxb-good"})

# Slack's documented limits (docs.slack.dev/reference/block-kit and chat.postMessage)
MAX_BLOCKS = 50
MAX_MESSAGE_TEXT = 40_000
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ID = 255
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
#: a response_url accepts up to 5 responses (docs.slack.dev, "Handling user interaction")
MAX_RESPONSE_URL_USES = 5
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024

#: every block-type sequence any FakeSlack checked in this process (tests/slack_shapes.py prints it)
SHAPES: Counter[tuple[str, ...]] = Counter()
_RUNNING: weakref.WeakSet[FakeSlack] = weakref.WeakSet()
_TS = re.compile(r"^\d{10}\.\d{6}$")


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
class Rejection:
    """One request the server refused, with what Slack would have said."""

    method: str
    error: str
    errors: list[str]
    body: dict[str, Any]

    def __str__(self) -> str:
        details = "; ".join(self.errors[:5])
        return f"{self.method}: {self.error}" + (f" ({details})" if details else "")


@dataclass
class Upload:
    """A file announced by files.getUploadURLExternal; content arrives at its upload URL."""

    file_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str = ""
    shared: bool = False
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None


class Refusal(Exception):
    """Raised inside the server: Slack's error code and, for invalid_blocks, its reasons."""

    def __init__(self, error: str, errors: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.errors = errors or []


@dataclass
class FakeSlack:
    """Speaks enough of the Slack Web API, as strictly as Slack; remembers every call; can be told to fail."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: method -> queued (status, headers, json object or plain text) answers used before the normal
    #: one: Slack failing on purpose (no checks applied, not counted as a rejection)
    scripted: dict[str, list[tuple[int, dict[str, str], dict[str, Any] | str]]] = field(default_factory=dict)
    url: str = ""
    tokens: frozenset[str] = TOKENS
    #: every refusal, in order; `verdict()` matches them against the expected ones
    rejections: list[Rejection] = field(default_factory=list)
    expected: list[tuple[str, str | None]] = field(default_factory=list)
    #: block-type sequences of the messages this server checked, with how often
    shapes: Counter[tuple[str, ...]] = field(default_factory=Counter)
    #: (channel, ts) -> the message as posted or last updated
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    #: seen by `slack_rejections_checked`: its refusals are a test's business
    checked: bool = False
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _response_uses: Counter[str] = field(default_factory=Counter)
    _upload_urls: dict[str, str] = field(default_factory=dict)
    _busy: int = 0
    _last: float = 0.0

    def __hash__(self) -> int:  # kept in a WeakSet
        return id(self)

    # -- the test's side -----------------------------------------------------------------------
    def expect_rejection(self, error: str, method: str | None = None, count: int = 1) -> None:
        """Announce that the code under test will make Slack refuse something (`count` times)."""
        self.expected += [(error, method)] * count

    def verdict(self) -> list[str]:
        """Refusals nobody announced, and announcements that never happened; both reset."""
        pending = list(self.expected)
        problems = []
        for rejection in self.rejections:
            match = next(
                (e for e in pending if e[0] == rejection.error and e[1] in (None, rejection.method)), None
            )
            if match:
                pending.remove(match)
            else:
                problems.append(f"Slack refused {rejection}")
        problems += [
            f"expected Slack to refuse with {e} ({m or 'any method'}), it did not" for e, m in pending
        ]
        self.rejections.clear()
        self.expected.clear()
        return problems

    def settle(self, quiet: float = 0.15, timeout: float = 5.0) -> None:
        """Wait until the bot has stopped talking to Slack (its replies run after the ack)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._busy and time.monotonic() - self._last >= quiet:
                return
            time.sleep(0.02)

    def channel(self, channel: str, thread_ts: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(ts, message) of the messages in a channel as they are now: top level, or one thread's replies."""
        return [
            (ts, m)
            for (c, ts), m in list(self.messages.items())
            if c == channel and m.get("thread_ts") == thread_ts
        ]

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

    # -- the server's side ---------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        self._busy += 1
        try:
            return await self._handle(request)
        finally:
            self._busy -= 1
            self._last = time.monotonic()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        if method.startswith("upload/"):
            return self._upload(method, request, raw)
        try:  # Web API arguments may come in the query string (GET), a form or JSON body
            body = {**request.query, **_parse_body(request.content_type, raw)}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self.calls.append((method, body))
        if self.scripted.get(method):
            status, headers, answer = self.scripted[method].pop(0)
            if isinstance(answer, str):
                return web.Response(status=status, headers=headers, text=answer, content_type="text/plain")
            return web.json_response(answer, status=status, headers=headers)
        if method.startswith("response/"):
            return self._response_url(method, body)
        try:
            if "_raw" in body:
                raise Refusal("invalid_json")
            self._authenticate(request, body)
            handler = self._methods().get(method)
            if handler is None:
                raise Refusal("unknown_method")
            return web.json_response({"ok": True, **handler(body)})
        except Refusal as refused:
            self.rejections.append(Rejection(method, refused.error, refused.errors, body))
            payload: dict[str, Any] = {"ok": False, "error": refused.error}
            if refused.errors:  # Slack lists `errors` for invalid_blocks; the messages always
                if refused.error == "invalid_blocks":
                    payload["errors"] = refused.errors
                payload["response_metadata"] = {"messages": [f"[ERROR] {e}" for e in refused.errors]}
            return web.json_response(payload)

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": lambda _: {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "team": "test"},
            "usergroups.users.list": self._usergroup,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }

    def _authenticate(self, request: web.Request, body: dict[str, Any]) -> None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else body.get("token")
        if not token:
            raise Refusal("not_authed")
        if token not in self.tokens:
            raise Refusal("invalid_auth")

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _usergroup(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("usergroup"):
            raise Refusal("invalid_arguments", ["missing required field: usergroup"])
        return {"users": ["U0GROUPIE"]}

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(body)
        if body.get("thread_ts") is not None and not _TS.match(str(body["thread_ts"])):
            raise Refusal("invalid_thread_ts", [f"{body['thread_ts']} is not a valid thread_ts"])
        message = self._checked(body)
        ts = self._next_ts()
        self.messages[(channel, ts)] = {**message, "thread_ts": body.get("thread_ts")}
        return {"channel": channel, "ts": ts, "message": {"type": "message", "ts": ts, **message}}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = _channel(body)
        ts = body.get("ts")
        if not ts:
            raise Refusal("invalid_arguments", ["missing required field: ts"])
        if (channel, str(ts)) not in self.messages:
            raise Refusal("message_not_found")
        message = self._checked(body)
        self.messages[(channel, str(ts))] |= message
        return {"channel": channel, "ts": ts, "text": message.get("text", "")}

    def _post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        _channel(body)
        if not body.get("user"):
            raise Refusal("invalid_arguments", ["missing required field: user"])
        self._checked(body)
        return {"message_ts": self._next_ts()}

    def _checked(self, body: dict[str, Any]) -> dict[str, Any]:
        """The message in `body` (text, blocks) once it passed Slack's checks; raises Refusal."""
        text, blocks = body.get("text"), body.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                raise Refusal("invalid_blocks_format") from None
        if blocks is not None and not isinstance(blocks, list):
            raise Refusal("invalid_blocks_format")
        if text is not None and not isinstance(text, str):
            raise Refusal("invalid_arguments", ["text must be a string"])
        shape = tuple(str(b.get("type")) if isinstance(b, dict) else "?" for b in blocks or []) or ("text",)
        self.shapes[shape] += 1
        SHAPES[shape] += 1
        if not (text and text.strip()) and not blocks:
            raise Refusal("no_text")
        if text and len(text) > MAX_MESSAGE_TEXT:
            raise Refusal("msg_too_long")
        if blocks:
            errors = block_errors(blocks)
            if errors:
                raise Refusal("invalid_blocks", errors)
        return {"text": text or "", "blocks": blocks or []}

    def _response_url(self, method: str, body: dict[str, Any]) -> web.Response:
        """response_url posts are answered like incoming webhooks: a plain-text error and a 4xx status."""
        try:
            if "_raw" in body:
                raise Refusal("invalid_payload")
            if self._response_uses[method] >= MAX_RESPONSE_URL_USES:
                raise Refusal("used_url")
            if body.get("response_type") not in (None, "in_channel", "ephemeral"):
                raise Refusal("invalid_payload")
            if not body.get("delete_original"):
                self._checked(body)
        except Refusal as refused:
            self.rejections.append(Rejection(method, refused.error, refused.errors, body))
            status = 404 if refused.error == "used_url" else 400
            return web.Response(status=status, text=refused.error, content_type="text/plain")
        self._response_uses[method] += 1
        return web.json_response({"ok": True})

    # -- files.upload v2: getUploadURLExternal, POST to the upload URL, completeUploadExternal --
    def _get_upload_url(self, body: dict[str, Any]) -> dict[str, Any]:
        filename = body.get("filename")
        if not filename:
            raise Refusal("invalid_arguments", ["missing required field: filename"])
        length = str(body.get("length", ""))
        if not length.isdigit():
            raise Refusal("invalid_arguments", ["missing required field: length"])
        if int(length) == 0:
            raise Refusal("missing_argument")
        if int(length) > MAX_UPLOAD_BYTES:
            raise Refusal("file_upload_size_restricted")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        key = uuid.uuid4().hex
        self.uploads[file_id] = Upload(file_id, str(filename), int(length))
        self._upload_urls[key] = file_id
        return {"upload_url": f"{self.url}/upload/v1/{key}", "file_id": file_id}

    def _upload(self, method: str, request: web.Request, raw: bytes) -> web.Response:
        self.calls.append((method, {"bytes": len(raw)}))
        file_id = self._upload_urls.get(method.removeprefix("upload/v1/"))
        upload = self.uploads.get(file_id or "")
        if upload is None or upload.content is not None:
            self.rejections.append(Rejection(method, "upload_url_invalid", [], {}))
            return web.Response(status=404, text="not found")
        content = raw
        if request.content_type.startswith("multipart/"):
            content = _multipart_file(request.content_type, raw)
        if len(content) != upload.length:
            error = f"length mismatch: announced {upload.length}, sent {len(content)}"
            self.rejections.append(Rejection(method, "invalid_length", [error], {}))
            return web.Response(status=400, text=error)
        upload.content = content
        return web.Response(text=f"OK - {len(content)}")

    def _complete_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            files = json.loads(body.get("files") or "")
        except (TypeError, ValueError):
            raise Refusal("invalid_arguments", ["files must be a JSON array of {id, title}"]) from None
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise Refusal("invalid_arguments", ["files must be a JSON array of {id, title}"])
        channel, thread_ts = body.get("channel_id") or None, body.get("thread_ts") or None
        if thread_ts and not channel:
            raise Refusal("invalid_arguments", ["thread_ts requires channel_id"])
        if thread_ts and not _TS.match(str(thread_ts)):
            raise Refusal("invalid_thread_ts")
        comment = body.get("initial_comment")
        if comment and len(str(comment)) > MAX_MESSAGE_TEXT:
            raise Refusal("msg_too_long")
        done = []
        for item in files:
            upload = self.uploads.get(str(item.get("id")))
            if upload is None or upload.content is None or upload.shared:
                raise Refusal("file_not_found")
            done.append(upload)
        for upload, item in zip(done, files, strict=True):
            upload.shared = True
            upload.title = str(item.get("title") or upload.filename)
            upload.channel, upload.thread_ts, upload.initial_comment = channel, thread_ts, comment
        return {
            "files": [{"id": u.file_id, "name": u.filename, "title": u.title, "size": u.length} for u in done]
        }


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    if content_type == "application/json":
        parsed = json.loads(raw) if raw.strip() else {}
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
        return parsed
    return dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))


def _multipart_file(content_type: str, raw: bytes) -> bytes:
    boundary = content_type.split("boundary=", 1)[-1].strip('"').encode()
    for part in raw.split(b"--" + boundary):
        head, _, content = part.partition(b"\r\n\r\n")
        if b"filename=" in head:
            return content.removesuffix(b"\r\n")
    return b""


def _channel(body: dict[str, Any]) -> str:
    channel = body.get("channel")
    if not channel or not isinstance(channel, str):
        raise Refusal("channel_not_found")
    return channel


# ---------------------------------------------------------------- Block Kit, as Slack checks it


def block_errors(blocks: list[Any]) -> list[str]:
    """Slack's `errors` for a blocks array: slack_sdk's models plus the rules they do not check."""
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"must be less than {MAX_BLOCKS + 1} items [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict):
            errors.append(f"expected an object [json-pointer:{at}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= MAX_ID:
                errors.append(f"block_id must be 1-{MAX_ID} characters [json-pointer:{at}/block_id]")
            elif block_id in block_ids:
                errors.append(f"duplicate block_id: {block_id} [json-pointer:{at}/block_id]")
            block_ids.add(str(block_id))
        errors += _block_rules(block, at)
        errors += _model_errors(block, at)
    return errors


def _model_errors(block: dict[str, Any], at: str) -> list[str]:
    """What slack_sdk's own models say; unknown keys are keys the model does not give back."""
    try:
        parsed = Block.parse(block)
    except (SlackObjectFormationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"{exc} [json-pointer:{at}]"]
    if parsed is None:
        return [f"unsupported type: {block.get('type')} [json-pointer:{at}/type]"]
    try:
        parsed.validate_json()
        known = parsed.to_dict()  # validates the nested elements and composition objects too
    except (SlackObjectFormationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"{exc} [json-pointer:{at}]"]
    return [f"invalid additional property: {p} [json-pointer:{p}]" for p in _extra_keys(block, known, at)]


def _extra_keys(given: Any, known: Any, at: str) -> list[str]:
    if isinstance(given, dict) and isinstance(known, dict):
        extra = [f"{at}/{k}" for k in given if k not in known and given[k] not in ("", None, [], {})]
        return extra + [p for k in given if k in known for p in _extra_keys(given[k], known[k], f"{at}/{k}")]
    if isinstance(given, list) and isinstance(known, list) and len(given) == len(known):
        return [
            p
            for i, (g, k) in enumerate(zip(given, known, strict=True))
            for p in _extra_keys(g, k, f"{at}/{i}")
        ]
    return []


def _text_errors(obj: Any, at: str, *, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"must provide an object [json-pointer:{at}]"]
    kind, text = obj.get("type"), obj.get("text")
    errors = []
    if kind not in ("plain_text", "mrkdwn") or (plain_only and kind != "plain_text"):
        expected = "plain_text" if plain_only else "plain_text, mrkdwn"
        errors.append(f"must be one of [{expected}] [json-pointer:{at}/type]")
    if not isinstance(text, str) or not text:
        errors.append(f"must be more than 0 characters [json-pointer:{at}/text]")
    elif len(text) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{at}/text]")
    if "emoji" in obj and kind != "plain_text":
        errors.append(f"emoji is only allowed on plain_text [json-pointer:{at}/emoji]")
    if "verbatim" in obj and kind != "mrkdwn":
        errors.append(f"verbatim is only allowed on mrkdwn [json-pointer:{at}/verbatim]")
    return errors


def _block_rules(block: dict[str, Any], at: str) -> list[str]:
    kind = block.get("type")
    errors: list[str] = []
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.append(f"must define either `text` or `fields` [json-pointer:{at}]")
        if "text" in block:
            errors += _text_errors(block["text"], f"{at}/text", limit=MAX_SECTION_TEXT)
        fields = block.get("fields", [])
        if len(fields) > MAX_FIELDS:
            errors.append(f"must be less than {MAX_FIELDS + 1} items [json-pointer:{at}/fields]")
        for j, item in enumerate(fields):
            errors += _text_errors(item, f"{at}/fields/{j}", limit=MAX_FIELD_TEXT)
        if "accessory" in block:
            errors += _element_errors(block["accessory"], f"{at}/accessory")
    elif kind == "header":
        errors += _text_errors(block.get("text"), f"{at}/text", limit=MAX_HEADER_TEXT, plain_only=True)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            errors.append(f"must have 1-{MAX_CONTEXT_ELEMENTS} items [json-pointer:{at}/elements]")
        for j, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") in ("plain_text", "mrkdwn"):
                errors += _text_errors(element, f"{at}/elements/{j}", limit=MAX_SECTION_TEXT)
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            errors.append(f"must have 1-{MAX_ACTIONS_ELEMENTS} items [json-pointer:{at}/elements]")
        seen: set[str] = set()
        for j, element in enumerate(elements):
            errors += _element_errors(element, f"{at}/elements/{j}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id in seen:
                errors.append(f"duplicate action_id: {action_id} [json-pointer:{at}/elements/{j}/action_id]")
            if isinstance(action_id, str):
                seen.add(action_id)
    return errors


def _element_errors(element: Any, at: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"expected an object [json-pointer:{at}]"]
    errors: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or not 0 < len(action_id) <= MAX_ID):
        errors.append(f"action_id must be 1-{MAX_ID} characters [json-pointer:{at}/action_id]")
    if element.get("type") != "button":
        return errors
    errors += _text_errors(element.get("text"), f"{at}/text", limit=MAX_BUTTON_TEXT, plain_only=True)
    value = element.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE):
        errors.append(f"must be less than {MAX_BUTTON_VALUE + 1} characters [json-pointer:{at}/value]")
    if "url" in element and (not isinstance(element["url"], str) or len(element["url"]) > MAX_URL):
        errors.append(f"must be less than {MAX_URL + 1} characters [json-pointer:{at}/url]")
    if element.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be one of [primary, danger] [json-pointer:{at}/style]")
    if "confirm" in element:
        errors += _confirm_errors(element["confirm"], f"{at}/confirm")
    return errors


def _confirm_errors(confirm: Any, at: str) -> list[str]:
    if not isinstance(confirm, dict):
        return [f"expected an object [json-pointer:{at}]"]
    errors = _text_errors(confirm.get("title"), f"{at}/title", limit=MAX_CONFIRM_TITLE, plain_only=True)
    errors += _text_errors(confirm.get("text"), f"{at}/text", limit=MAX_CONFIRM_TEXT)
    for key in ("confirm", "deny"):
        errors += _text_errors(confirm.get(key), f"{at}/{key}", limit=MAX_CONFIRM_BUTTON, plain_only=True)
    if confirm.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be one of [primary, danger] [json-pointer:{at}/style]")
    return errors


# ---------------------------------------------------------------- servers


def start_fake_slack(loop: LoopThread) -> tuple[FakeSlack, web.AppRunner]:
    fake = FakeSlack()
    app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
    app.router.add_route("*", "/api/{method:.+}", fake.handle)
    app.router.add_route("*", "/{method:response/.+}", fake.handle)
    app.router.add_route("POST", "/{method:upload/v1/.+}", fake.handle)
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    port = loop.run(start())
    fake.url = f"http://127.0.0.1:{port}"
    _RUNNING.add(fake)
    return fake, runner


@pytest.fixture(autouse=True)
def slack_rejections_checked() -> Iterator[None]:
    """Fail the test when a FakeSlack refused something the test did not announce (import to use).

    A refusal that arrives after a checked test ended fails the next checked test; what a server
    refused that no checked test ever saw belongs to a module that does not check, and is dropped."""
    late = []
    for fake in list(_RUNNING):
        found = fake.verdict()
        late += [f"{p} (after the previous test ended)" for p in found] if fake.checked else []
    if late:
        pytest.fail("the strict Slack server refused:\n  " + "\n  ".join(late), pytrace=False)
    yield
    problems = []
    for fake in list(_RUNNING):
        fake.settle()
        problems += fake.verdict()
        fake.checked = True
    if problems:
        pytest.fail("the strict Slack server refused:\n  " + "\n  ".join(problems), pytrace=False)


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


def serve_runtime(loop: LoopThread, fake: FakeSlack, runtime: Any) -> str:
    """deploybot's own HTTP server for `runtime` on a local port, speaking to `fake`: its URL."""
    from bot.slack.app import build_app
    from bot.slack.serve import web_app

    async def make() -> web.Application:
        app = build_app(runtime, token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake.url + "/api/")
        return web_app(app, runtime, signing_secret=SIGNING_SECRET)

    application = loop.run(make())
    url, _ = serve_app(loop, lambda: application)
    return url
