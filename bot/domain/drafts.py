"""Split a team's own docs into draft entries, one per heading or question.

Drafts are a starting point for a person: they carry the text as found, `draft: true`, and
stay out of answers until someone fills in the fields and drops the flag.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import yaml

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
# Plain-text topic starts: "问题3:", "Q:", "1. ", "一、", or a line that is itself a question.
_TEXT_TOPIC = re.compile(
    r"^(?:问题\s*\d+|Q\s*\d*|\d{1,2}[.、)]|[一二三四五六七八九十]{1,3}、)\s*[::]?\s*\S.{0,80}$|^.{4,80}[??]$"
)
_SLUG = re.compile(r"[^a-z0-9]+")
MIN_BODY_CHARS = 10


@dataclass(frozen=True)
class Section:
    title: str
    body: str


def _sections(lines: list[str], is_heading: re.Pattern[str], title_of: int) -> list[Section]:
    sections: list[Section] = []
    title: str | None = None
    body: list[str] = []
    in_code = False

    def flush() -> None:
        text = "\n".join(body).strip()
        if title and len(text) >= MIN_BODY_CHARS:
            sections.append(Section(title.strip(), text))

    for line in lines:
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else is_heading.match(line.strip())
        if match:
            flush()
            title = match.group(title_of) if title_of else match.group(0)
            body = []
        else:
            body.append(line)
    flush()
    return sections


def split_markdown(text: str) -> list[Section]:
    return _sections(text.splitlines(), _MD_HEADING, 2)


def split_plain(text: str) -> list[Section]:
    return _sections(text.splitlines(), _TEXT_TOPIC, 0)


def slug(text: str) -> str:
    ascii_part = _SLUG.sub("-", text.lower()).strip("-")
    return ascii_part[:40].strip("-") or hashlib.sha1(text.encode()).hexdigest()[:8]


def render_draft(section: Section, *, entry_id: str, source: str) -> str:
    meta = {
        "id": entry_id,
        "title": section.title,
        "summary": "",
        "questions": [],
        "tags": [],
        "source": source,
        "findings": [],
        "draft": True,
    }
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False).strip()
    return (
        f"---\n{front}\n---\n\n"
        "## 现象\nTODO: what the user sees.\n\n"
        "## 原因\nTODO: why it happens.\n\n"
        f"## 处理步骤\nTODO: rewrite as numbered steps.\n\n## 原文\n{section.body}\n"
    )
