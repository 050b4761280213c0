"""Results as Block Kit. Pure: data in, JSON-able dicts out, always inside Slack's limits.

Limits honoured: 50 blocks a message, 3,000 characters a section, 150 a header, 75 a button
label, 25 elements an actions block, 10 a context block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.diagnosis_types import Finding
from bot.domain.entries import Entry
from bot.domain.releases import ReleaseOrder

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_TEXT = 39_000  # the top-level `text` fallback (Slack truncates at 40k)
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


@dataclass(frozen=True)
class Button:
    """An action button: `ref` is the opaque id the click sends back."""

    action: str
    target: str
    ref: str
    #: the exact change, for the confirm dialog; None for read-only actions
    confirm: str | None = None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn(markdown: str) -> str:
    """Our entries' Markdown as Slack mrkdwn: bold, headings and links differ; code blocks do not."""
    out = []
    in_code = False
    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            out.append("```")
            continue
        if not in_code:
            line = re.sub(r"\*\*(.+?)\*\*", r"*\1*", line)
            line = re.sub(r"^#{1,6}\s*(.+)$", r"*\1*", line)
            line = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"<\2|\1>", line)
        out.append(line)
    return "\n".join(out)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, 2000)} for t in texts[:10]]}


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


def _confirm_dialog(text: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": "确认 / Confirm"},
        "text": {"type": "mrkdwn", "text": clip(text, 300)},
        "confirm": {"type": "plain_text", "text": "执行 / Do it"},
        "deny": {"type": "plain_text", "text": "取消 / Cancel"},
        "style": "danger",
    }


def _split_code(text: str, limit: int) -> list[str]:
    """Long text as several sections, never cutting a code fence open."""
    chunks, current = [], ""
    for paragraph in text.split("\n"):
        if len(current) + len(paragraph) + 1 > limit and current:
            if current.count("```") % 2:
                current += "\n```"
                paragraph = "```\n" + paragraph
            chunks.append(current)
            current = ""
        current = f"{current}\n{paragraph}" if current else paragraph
    if current:
        chunks.append(current)
    return chunks


def finish(blocks: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    """A message payload within the block limit; what does not fit is said, not dropped silently."""
    if len(blocks) > MAX_BLOCKS:
        blocks = [
            *blocks[: MAX_BLOCKS - 1],
            context(f"… {len(blocks) - MAX_BLOCKS + 1} more blocks not shown"),
        ]
    return {"text": clip(fallback, MAX_TEXT), "blocks": blocks}


# ---------------------------------------------------------------- answers


def answer(
    question: str,
    confident: bool,
    entries: Sequence[Entry],
    *,
    feedback_ref: str | None = None,
) -> dict[str, Any]:
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
    blocks += [section(chunk) for chunk in _split_code(mrkdwn(best.steps), MAX_SECTION)]
    blocks.append(context(f":books: 来源 / source: {best.source}  ·  `{best.id}`"))
    if others:
        blocks.append(context("相关 / related:"))
        blocks.append(_topic_buttons(others))
    if feedback_ref:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    button(":+1:", "deploybot:feedback_up", feedback_ref),
                    button(":-1:", "deploybot:feedback_down", feedback_ref),
                ],
            }
        )
    return finish(blocks, f"{best.title}\n{best.summary}")


def _topic_buttons(entries: Sequence[Entry]) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [button(e.title, "deploybot:topic", e.id) for e in entries[:5]],
    }


# ---------------------------------------------------------------- inspections


def _order_text(order: ReleaseOrder) -> str:
    versions = (
        f"`{order.old_version}` → `{order.new_version}`" if order.old_version else f"`{order.new_version}`"
    )
    counts = f"{order.updated}/{order.desired} updated, {order.ready} ready"
    batch = f"batch {order.batch}/{order.batches}"
    text = f"*发布单 / release order* `{order.target}` *{order.state}* · {batch} · {versions} · {counts}"
    return text + (f"\n> {order.reason}" if order.reason else "")


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
    healthy = not findings
    blocks: list[dict[str, Any]] = [
        header(f"{':white_check_mark:' if healthy else ':rotating_light:'} {environment}")
    ]
    blocks.append(section(summary))
    for field_name, why in sorted(unavailable.items()):
        blocks.append(context(f":warning: could not read {field_name}: {why}"))
    current = [o for o in orders if o.current and o.state != "completed"]
    for order in current[:3]:
        blocks.append(section(_order_text(order)))
    for finding in findings:
        blocks.append({"type": "divider"})
        blocks.append(
            section(f"{SEVERITY_EMOJI.get(finding.severity, '')} *{finding.title}*\n{finding.detail}")
        )
        if finding.evidence:
            blocks.append(section("```" + clip("\n".join(finding.evidence), MAX_SECTION - 8) + "```"))
        if finding.kb:
            links = " · ".join(f"{kb_titles.get(i, i)} (`{i}`)" for i in finding.kb)
            blocks.append(context(f":book: {links}"))
        mine = [b for b in buttons if (b.action, b.target) in {(a.action, a.target) for a in finding.actions}]
        if mine:
            blocks.append({"type": "actions", "elements": [_action_button(b) for b in mine[:25]]})
    if done_note:
        blocks.append(context(done_note))
    blocks.append(context(f"inspected at {taken_at.strftime('%H:%M:%S UTC')}"))
    return finish(blocks, summary)


def _action_button(b: Button) -> dict[str, Any]:
    target = b.target.split("/", 1)[-1]
    label = f"{ACTION_LABELS.get(b.action, b.action)} · {target}"
    confirm = _confirm_dialog(b.confirm) if b.confirm else None
    style = "danger" if b.action in DANGER else ("primary" if b.action == "resume_order" else None)
    return button(label, f"deploybot:act:{b.action}", b.ref, style=style, confirm=confirm)


def proposal(description: str, b: Button) -> dict[str, Any]:
    return finish(
        [
            section(f"要执行吗?/ Shall I?\n*{description}*"),
            {"type": "actions", "elements": [_action_button(b)]},
        ],
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
        [header(f"发布单 / release orders · {environment}"), section("```" + "\n".join(lines) + "```")],
        f"release orders of {environment}",
    )


def text_reply(text: str, *, code: bool = False) -> dict[str, Any]:
    body = "```" + clip(text, MAX_SECTION - 8) + "```" if code else clip(text, MAX_SECTION)
    note = (
        [context(f"(showing the last {MAX_SECTION - 8} characters of {len(text)})")]
        if code and len(text) > MAX_SECTION - 8
        else []
    )
    if code and len(text) > MAX_SECTION - 8:
        body = "```" + text[-(MAX_SECTION - 8) :] + "```"
    return finish([section(body), *note], clip(text, 500))
