"""Answers as terminal text and as the public JSON contract of `deploybot ask --json`."""

from __future__ import annotations

import re
from typing import Any

from bot.domain.text import terminal_safe
from bot.services import AskResult

MAX_QUERY_ECHO = 200
_FENCE = re.compile(r"^([ \t]*)```[\w-]*[ \t]*$")


EVIDENCE_LABEL = "依据 / from the entry:"


def answer_text(summary: str, steps: str, evidence: str = "") -> str:
    """Summary, the sentence that answers the question when the steps do not, then the steps."""
    facts = f"\n\n{EVIDENCE_LABEL} {evidence}" if evidence else ""
    return f"{summary}{facts}\n\n{steps}".strip()


def to_json(result: AskResult) -> dict[str, Any]:
    query = result.query if len(result.query) <= MAX_QUERY_ECHO else result.query[:MAX_QUERY_ECHO] + "…"
    return {
        "query": query,
        "confident": result.confident,
        "not_ours": result.not_ours,
        "answers": [
            {
                "id": a.entry.id,
                "title": a.entry.title,
                "answer": answer_text(a.entry.summary, a.entry.steps, a.evidence),
                "score": a.score,
                "source": a.entry.source,
                "findings": list(a.entry.findings),
            }
            for a in result.answers
        ],
    }


def _terminal_markdown(markdown: str) -> str:
    """Drop code fences and indent the commands, so they read as commands in a terminal.

    Indentation inside a block is kept (relative to its fence), so YAML stays YAML.
    """
    lines: list[str] = []
    in_code = False
    fence_indent = ""
    for line in markdown.splitlines():
        fence = _FENCE.match(line)
        if fence:
            in_code = not in_code
            fence_indent = fence.group(1)
            continue
        if in_code:
            code = line[len(fence_indent) :] if line.startswith(fence_indent) else line.lstrip()
            lines.append(f"    {code.rstrip()}" if code.strip() else "")
        else:
            lines.append(line)
    return "\n".join(lines)


def to_text(result: AskResult) -> str:
    """The answer for a terminal; escape sequences in entries (imported docs) are removed too."""
    return terminal_safe(_text(result))


def _text(result: AskResult) -> str:
    if not result.confident:
        head = "我不确定知识库里有这个问题的答案。/ I don't know this one."
        if not result.answers:
            return head + "\n试试换个说法,或用 `deploybot kb list` 查看全部主题。"
        topics = "\n".join(f"  - {a.entry.title}  [{a.entry.id}]" for a in result.answers)
        return f"{head}\n最接近的主题 / closest topics:\n{topics}"
    best, *others = result.answers
    parts = [
        f"{best.entry.title}  [{best.entry.id}]",
        "",
        best.entry.summary,
        *(["", f"{EVIDENCE_LABEL} {best.evidence}"] if best.evidence else []),
        "",
        _terminal_markdown(best.entry.steps),
        "",
        f"来源 / source: {best.entry.source}",
    ]
    related = list(result.related) if result.related else [a.entry for a in others]
    if related:
        parts.append("相关 / related: " + "; ".join(f"{e.title} [{e.id}]" for e in related))
    if result.truncated:
        parts.append("(问题过长,只看了前 2000 个字符 / only the first 2000 characters were read)")
    return "\n".join(parts)
