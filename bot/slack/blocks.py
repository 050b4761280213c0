"""Results as Block Kit. Pure: data in, JSON-able dicts out, always inside Slack's limits.

Limits honoured: 50 blocks a message, 3,000 characters a section, 150 a header, 75 a button
label, 25 elements an actions block, 10 a context block, 100/300 a confirm title/text, action ids
unique within their block. What does not fit one message goes to replies in its thread
(`split_thread`), never dropped.

Escaping happens here and only here: every mrkdwn text goes through `md()`, which escapes `&`,
`<` and `>` in whatever it is given unless it is `Mrkdwn` built by this module (our links and
mentions). So a knowledge entry's `kubectl logs <pod>` shows its placeholders and a container
termination message of `<!channel>` neither pings nor links.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.diagnosis_types import Finding
from bot.domain.entries import Entry
from bot.domain.releases import ReleaseOrder

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_CONTEXT = 2000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_VALUE = 2000
MAX_ACTIONS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_EVIDENCE_LINE = 1500
MAX_TEXT = 39_000  # the top-level `text` fallback (Slack refuses more than 40k: msg_too_long)
#: a message's key for the messages that go to its thread (see split_thread); never sent to Slack
THREAD = "deploybot_thread"
SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}
ACTION_LABELS = {
    "close_order": "关闭发布单 Close",
    "resume_order": "恢复 Resume",
    "pause_order": "暂停 Pause",
    "rollback_order": "回滚 Roll back",
    "retry_failed": "重试失败实例 Retry",
    "scale": "缩容到 0 Scale to 0",
    "restore": "恢复副本 Restore",
    "restart": "重启 Restart",
    "delete_pod": "删除 Pod",
    "logs": "日志 Logs",
    "events": "事件 Events",
}
DANGER = {"close_order", "rollback_order", "scale", "delete_pod"}
#: action ids as sent: `deploybot:act:<action>` and, for a repeat in one block, `:<n>` (n ≥ 2)
ACTION_ID = re.compile(r"^deploybot:act:[a-z_]+(?::\d+)?$")
TOPIC_ID = re.compile(r"^deploybot:topic(?::\d+)?$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Button:
    """An action button: `ref` is the opaque id the click sends back."""

    action: str
    target: str
    ref: str
    #: the exact change, for the confirm dialog; None for read-only actions
    confirm: str | None = None


# ---------------------------------------------------------------- escaping


class Mrkdwn(str):
    """Text that is already safe as Slack mrkdwn: made here, everything dynamic in it escaped."""

    __slots__ = ()


def escape(text: str) -> str:
    """Slack's three control characters as entities (docs: formatting, "Escaping text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md(*parts: str) -> Mrkdwn:
    """Join parts into mrkdwn: plain strings are escaped, `Mrkdwn` parts are kept as they are."""
    return Mrkdwn("".join(p if isinstance(p, Mrkdwn) else escape(p) for p in parts))


def mention(user: str) -> Mrkdwn:
    """A live user mention; anything that is not a user id is shown as text."""
    return Mrkdwn(f"<@{user}>") if _USER_ID.match(user) else md(user)


def link(url: str, label: str) -> Mrkdwn:
    """A live link we build; the label is escaped and a `|` in the URL cannot end it early."""
    return Mrkdwn(f"<{escape(url).replace('|', '%7C')}|{escape(label)}>")


_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,})&gt;")


def note(text: str) -> Mrkdwn:
    """A line our own runtime composed (`:white_check_mark: <@U…> restarted Deployment/x`): its
    first user mention, the actor's, stays live; everything else, any later mention included, is
    escaped."""
    return Mrkdwn(_ESCAPED_MENTION.sub(r"<@\1>", escape(text), count=1))


_BARE_ID = re.compile(r"(?<![\w@^&;])([UWS][A-Z0-9]{8,})\b")


def people(text: str) -> Mrkdwn:
    """A refusal or result of our own naming people by id ("already done by U012AB…", "operators
    are U…, S…"): escaped, then the ids as live mentions (user-groups as group mentions), so the
    reader sees names and can reach them."""

    def live(found: re.Match[str]) -> str:
        ident = found.group(1)
        return f"<!subteam^{ident}>" if ident.startswith("S") else f"<@{ident}>"

    return Mrkdwn(_BARE_ID.sub(live, escape(text)))


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def _clip_mrkdwn(text: Mrkdwn, limit: int) -> Mrkdwn:
    """Clip escaped text without cutting an entity or one of our links in half."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[: limit - 1])
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return Mrkdwn(cut + "…")


def mrkdwn(markdown: str) -> Mrkdwn:
    """Our entries' Markdown as Slack mrkdwn: bold, headings and links differ; code blocks do not.

    The entry text is escaped first (its `<pod>` placeholders are text), then its Markdown
    links become our links.
    """
    out = []
    in_code = False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            out.append("```")
            continue
        if in_code:
            out.append(escape(line))
            continue
        parts: list[str] = []
        last = 0
        for found in re.finditer(r"\[([^\]]+)\]\(([^)\s]+)\)", line):
            parts.append(_inline(line[last : found.start()]))
            parts.append(link(found.group(2), found.group(1)))
            last = found.end()
        parts.append(_inline(line[last:]))
        out.append("".join(parts))
    return Mrkdwn("\n".join(out))


def _inline(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", escape(text))
    return re.sub(r"^#{1,6}\s*(.+)$", r"*\1*", text)


# ---------------------------------------------------------------- building blocks


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip_mrkdwn(md(text), MAX_SECTION)}}


def code(text: str) -> dict[str, Any]:
    """Cluster output in a code block, escaped; clipped inside the fences, so they always close."""
    return section(md("```", _clip_mrkdwn(md(text), MAX_SECTION - 6), "```"))


def context(*texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": _clip_mrkdwn(md(t), MAX_CONTEXT)} for t in texts[:MAX_CONTEXT_ELEMENTS]
        ],
    }


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER), "emoji": True}}


def button(
    text: str, action_id: str, value: str, *, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def actions(elements: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """An actions block whose action ids are unique, as Slack requires: a repeated id gets `:2`, `:3`…"""
    seen: dict[str, int] = {}
    unique = []
    for element in elements:
        base = element["action_id"]
        seen[base] = seen.get(base, 0) + 1
        unique.append(element if seen[base] == 1 else {**element, "action_id": f"{base}:{seen[base]}"})
    return {"type": "actions", "elements": unique}


def _confirm_dialog(text: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": "确认 / Confirm"},
        "text": {"type": "mrkdwn", "text": _clip_mrkdwn(md(text), MAX_CONFIRM_TEXT)},
        "confirm": {"type": "plain_text", "text": "执行 / Do it"},
        "deny": {"type": "plain_text", "text": "取消 / Cancel"},
        "style": "danger",
    }


def _split_code(text: str, limit: int) -> list[Mrkdwn]:
    """Long mrkdwn as several sections, never cutting a code fence open."""
    chunks: list[Mrkdwn] = []
    current = ""
    for paragraph in text.split("\n"):
        if len(current) + len(paragraph) + 1 > limit and current:
            if current.count("```") % 2:
                current += "\n```"
                paragraph = "```\n" + paragraph
            chunks.append(Mrkdwn(current))
            current = ""
        current = f"{current}\n{paragraph}" if current else paragraph
    if current:
        chunks.append(Mrkdwn(current))
    return chunks


def _message(blocks: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    return {"text": _clip_mrkdwn(md(fallback), MAX_TEXT), "blocks": blocks}


def finish(blocks: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    """A message payload within the block limit; blocks that do not fit go to its thread."""
    if len(blocks) <= MAX_BLOCKS:
        return _message(blocks, fallback)
    head = blocks[: MAX_BLOCKS - 1]
    rest = blocks[MAX_BLOCKS - 1 :]
    replies = [rest[i : i + MAX_BLOCKS] for i in range(0, len(rest), MAX_BLOCKS)]
    head.append(context(f":thread: {len(rest)} more blocks in the thread"))
    message = _message(head, fallback)
    message[THREAD] = [_message(r, f"{fallback} ({n}/{len(replies)})") for n, r in enumerate(replies, 1)]
    return message


def split_thread(message: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The message to send, and the messages to post as replies in its thread."""
    replies = list(message.get(THREAD) or [])
    return {k: v for k, v in message.items() if k != THREAD}, replies


def fallback(message: dict[str, Any], error: str) -> dict[str, Any]:
    """The short plain-text reply sent when Slack refused `message` (its text is already escaped)."""
    text = str(message.get("text") or "")
    why = md(f":warning: Slack could not show the full reply ({error}).")
    short = _clip_mrkdwn(Mrkdwn(text), MAX_SECTION - len(why) - 1)
    return {"text": Mrkdwn(f"{why} {short}" if short else why)}


# ---------------------------------------------------------------- answers


def answer(
    question: str,
    confident: bool,
    entries: Sequence[Entry],
    *,
    feedback_ref: str | None = None,
    evidence: str = "",
    related: Sequence[Entry] | None = None,
) -> dict[str, Any]:
    """`evidence`: the entry's sentence that answers the question when it is not in the summary or
    steps (the number or rule asked for); `related`: the curated related entries (else the others
    ranked)."""
    if not confident or not entries:
        blocks = [section(":thinking_face: 我不确定知识库里有这个问题的答案。/ I don't know this one.")]
        if entries:
            blocks.append(context("最接近的主题 / closest topics:"))
            blocks.append(_topic_buttons(entries))
        else:
            blocks.append(context("试试换个说法,或 `/deploybot help`。"))
        return finish(blocks, "I don't know this one.")
    best, *others = entries
    blocks = [header(best.title), section(mrkdwn(best.summary))]
    if evidence:
        blocks.append(section(md(Mrkdwn("*依据 / from the entry:* "), clip(evidence, MAX_SECTION - 40))))
    blocks += [section(chunk) for chunk in _split_code(mrkdwn(best.steps), MAX_SECTION)]
    blocks.append(context(f":books: 来源 / source: {best.source}  ·  `{best.id}`"))
    others = list(related) if related is not None else others
    if others:
        blocks.append(context("相关 / related:"))
        blocks.append(_topic_buttons(others))
    if feedback_ref:
        blocks.append(
            actions(
                [
                    button(":+1:", "deploybot:feedback_up", feedback_ref),
                    button(":-1:", "deploybot:feedback_down", feedback_ref),
                ]
            )
        )
    return finish(blocks, f"{best.title}\n{best.summary}")


def _topic_buttons(entries: Sequence[Entry]) -> dict[str, Any]:
    return actions(button(e.title, "deploybot:topic", e.id) for e in entries[:5])


# ---------------------------------------------------------------- inspections


def _order_text(order: ReleaseOrder) -> Mrkdwn:
    new = order.new_version or "?"
    versions = md("`", order.old_version, "` → `", new, "`") if order.old_version else md("`", new, "`")
    counts = f"{order.updated}/{order.desired} updated, {order.ready} ready"
    batch = f"batch {order.batch}/{order.batches}"
    text = md("*发布单 / release order* `", order.target, "` *", order.state, "* · ", batch, " · ")
    text = md(text, versions, " · ", counts)
    return md(text, "\n> ", order.reason) if order.reason else text


def _finding_blocks(
    finding: Finding, buttons: Sequence[Button], kb_titles: dict[str, str]
) -> list[dict[str, Any]]:
    """One finding: title and fix, its evidence (several code sections if long), kb, buttons.

    Always fits one message, so a finding is never split across messages.
    """
    offered = {(a.action, a.target) for a in finding.actions}
    mine = [_action_button(b) for b in buttons if (b.action, b.target) in offered]
    rows = [actions(mine[i : i + MAX_ACTIONS]) for i in range(0, len(mine), MAX_ACTIONS)]
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        section(md(SEVERITY_EMOJI.get(finding.severity, ""), " *", finding.title, "*\n", finding.detail)),
    ]
    if finding.evidence:
        lines = [_clip_mrkdwn(md(line), MAX_EVIDENCE_LINE) for line in finding.evidence]
        chunks = _split_code(Mrkdwn("\n".join(lines)), MAX_SECTION - 8)
        room = MAX_BLOCKS - len(blocks) - len(rows) - 2  # the kb context and the "more" line
        if len(chunks) > room:
            shown = sum(c.count("\n") + 1 for c in chunks[:room])
            chunks = [
                *chunks[:room],
                Mrkdwn(f"… {len(lines) - shown} more evidence lines (deploybot inspect)"),
            ]
        blocks += [section(Mrkdwn("```" + c + "```")) for c in chunks]
    if finding.kb:
        links = " · ".join(f"{kb_titles.get(i, i)} (`{i}`)" for i in finding.kb)
        blocks.append(context(f":book: {links}"))
    return blocks + rows


def inspection(
    *,
    environment: str,
    summary: str,
    orders: Sequence[ReleaseOrder],
    findings: Sequence[Finding],
    buttons: Sequence[Button],
    kb_titles: dict[str, str],
    unavailable: dict[str, str],
    taken_at: datetime,
    done_note: str = "",
) -> dict[str, Any]:
    """The inspection as one message; when its findings do not fit, a summary message with the
    findings that fit, and the others as replies in its thread (`split_thread`)."""
    healthy = not findings
    head: list[dict[str, Any]] = [
        header(f"{':white_check_mark:' if healthy else ':rotating_light:'} {environment}"),
        section(summary),
    ]
    for field_name, why in sorted(unavailable.items()):
        head.append(context(_unavailable_line(field_name, why)))
    current = [o for o in orders if o.current and o.state != "completed"]
    head += [section(_order_text(order)) for order in current[:3]]
    tail = [context(note(done_note))] if done_note else []
    tail.append(context(f"inspected at {taken_at.strftime('%H:%M:%S UTC')}"))
    groups = [_finding_blocks(f, buttons, kb_titles) for f in findings]

    room = MAX_BLOCKS - len(head) - len(tail)
    shown = 0
    while shown < len(groups) and len(groups[shown]) <= room - (1 if shown + 1 < len(groups) else 0):
        room -= len(groups[shown])
        head += groups[shown]
        shown += 1
    if shown == len(groups):
        return _message(head + tail, summary)
    rest = groups[shown:]
    head.append(context(f":thread: {len(rest)} more findings in the thread ↓"))
    message = _message(head + tail, summary)
    replies: list[list[dict[str, Any]]] = [[]]
    for group in rest:
        if len(replies[-1]) + len(group) > MAX_BLOCKS:
            replies.append([])
        replies[-1] += group
    message[THREAD] = [
        _message(blocks, f"{environment}: findings, part {n} of {len(replies)}")
        for n, blocks in enumerate(replies, 1)
    ]
    return message


INCIDENT_ACK = "deploybot:incident:ack"
INCIDENT_MUTE = "deploybot:incident:mute"
MUTE_HOURS = 1


def with_incident_buttons(message: dict[str, Any], value: str) -> dict[str, Any]:
    """An incident's root message: its inspection, plus "I'm on it" and (operators) "Mute"."""
    elements = [
        button(":raising_hand: I'm on it", INCIDENT_ACK, value, style="primary"),
        button(
            f":no_bell: Mute {MUTE_HOURS}h",
            INCIDENT_MUTE,
            value,
            confirm=_confirm_dialog(f"No new incident messages for this environment for {MUTE_HOURS} hour."),
        ),
    ]
    current = list(message.get("blocks") or [])
    if len(current) >= MAX_BLOCKS:  # a full message keeps its findings; the buttons go first
        current = current[: MAX_BLOCKS - 1]
    return {**message, "blocks": [*current[:2], actions(elements), *current[2:]]}


def _unavailable_line(field_name: str, why: str) -> str:
    """One short line: the channel needs to know what was not checked, not the RBAC rule (the
    terminal's `inspect` and `doctor` give that)."""
    if "(403)" in why:
        return f":warning: {field_name}: not readable by the bot (RBAC), so their checks were skipped"
    return f":warning: could not read {field_name}: {clip(why, 160)}"


def result_line(line: str, undo: Button | None) -> dict[str, Any]:
    """After a change: one line for the channel, with the button that takes it back where one applies."""
    return result_lines(line, [undo] if undo is not None else [])


def result_lines(line: str, buttons: Sequence[Button]) -> dict[str, Any]:
    """One line of ours for the channel, with the buttons that apply (none: just the line)."""
    text = note(line)
    body: list[dict[str, Any]] = [section(text)]
    if buttons:
        body.append(actions([_action_button(b) for b in buttons]))
    return finish(body, text)


def _action_button(b: Button) -> dict[str, Any]:
    target = b.target.split("/", 1)[-1]
    label = f"{ACTION_LABELS.get(b.action, b.action)} · {target}"
    confirm = _confirm_dialog(b.confirm) if b.confirm else None
    style = "danger" if b.action in DANGER else ("primary" if b.action == "resume_order" else None)
    return button(label, f"deploybot:act:{b.action}", b.ref, style=style, confirm=confirm)


def proposal(description: str, b: Button) -> dict[str, Any]:
    return finish(
        [section(md("要执行吗?/ Shall I?\n*", description, "*")), actions([_action_button(b)])],
        description,
    )


def orders_list(environment: str, orders: Sequence[ReleaseOrder]) -> dict[str, Any]:
    if not orders:
        return finish(
            [section(f"{environment}: no release orders found")], f"{environment}: no release orders"
        )
    lines = []
    for o in orders[:20]:
        when = o.changed_at.strftime("%m-%d %H:%M") if o.changed_at else "?"
        mark = "▶" if o.current else " "
        lines.append(
            f"{mark} {o.target} r{o.revision} {o.state:<9} {o.batch}/{o.batches}"
            f" {o.new_version or '?'} {when}"
        )
    return finish(
        [header(f"发布单 / release orders · {environment}"), code("\n".join(lines))],
        f"release orders of {environment}",
    )


def text_reply(text: str, *, code: bool = False) -> dict[str, Any]:
    """A plain reply (a `Mrkdwn` text is kept as is); `code=True` for cluster output, of which a
    long one shows its last part, and says so."""
    short = _clip_mrkdwn(text, 500) if isinstance(text, Mrkdwn) else clip(text, 500)
    if not code:
        return finish([section(text)], short)
    room = MAX_SECTION - 8
    tail = text[-room:]
    while len(escape(tail)) > room:  # entities are longer than the characters they stand for
        tail = tail[len(escape(tail)) - room :]
    blocks = [section(Mrkdwn("```" + escape(tail) + "```"))]
    if len(tail) < len(text):
        blocks.append(context(f"(showing the last {len(tail)} characters of {len(text)})"))
    return finish(blocks, short)
