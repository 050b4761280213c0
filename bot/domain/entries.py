"""Knowledge entries: parse one Markdown file with front matter, and validate a whole base.

Pure: callers hand in text and a name for messages; nothing here touches the disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import yaml

from bot.domain.findings import FINDING_CODES

SECTION_SYMPTOMS = "现象"
SECTION_CAUSES = "原因"
SECTION_STEPS = "处理步骤"
REQUIRED_SECTIONS = (SECTION_SYMPTOMS, SECTION_CAUSES, SECTION_STEPS)
REQUIRED_FIELDS = ("id", "title", "summary", "questions", "tags", "source", "findings")
KNOWN_FIELDS = frozenset({*REQUIRED_FIELDS, "related", "draft"})
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.M)


class EntryError(ValueError):
    """An entry file is malformed; the message names the file and the field."""

    def __init__(self, origin: str, field_name: str, problem: str) -> None:
        super().__init__(f"{origin}: {field_name}: {problem}")
        self.origin = origin
        self.field_name = field_name
        self.problem = problem


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    summary: str
    questions: tuple[str, ...]
    tags: tuple[str, ...]
    sources: tuple[str, ...]
    findings: tuple[str, ...]
    related: tuple[str, ...]
    sections: dict[str, str] = field(hash=False, compare=False)
    draft: bool = False
    origin: str = ""

    @property
    def steps(self) -> str:
        return self.sections.get(SECTION_STEPS, "")

    @property
    def body(self) -> str:
        return "\n\n".join(f"## {name}\n{text}" for name, text in self.sections.items())

    @property
    def source(self) -> str:
        return ", ".join(self.sources)


def split_sections(markdown: str) -> dict[str, str]:
    """`## heading` -> text under it, in order; text before the first heading is dropped."""
    sections: dict[str, str] = {}
    matches = list(_HEADING.finditer(markdown))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(markdown)
        sections[match.group(1).strip()] = markdown[match.end() : end].strip()
    return sections


def _string_list(origin: str, name: str, value: object, *, allow_empty: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise EntryError(origin, name, f"expected a list of strings, got {type(value).__name__}")
    items: list[str] = []
    for item in value:
        if not isinstance(item, str | int | float) or isinstance(item, bool) or not str(item).strip():
            raise EntryError(origin, name, f"expected non-empty strings, got {item!r}")
        items.append(str(item).strip())
    if not items and not allow_empty:
        raise EntryError(origin, name, "must not be empty")
    return tuple(items)


def _text(origin: str, name: str, value: object) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool) or not str(value).strip():
        raise EntryError(origin, name, "must be a non-empty string")
    return str(value).strip()


def parse_entry(text: str, *, origin: str) -> Entry:
    """One entry from its file text; `origin` names the file in error messages."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        raise EntryError(
            origin, "front matter", "the file must start with a '---' YAML block closed by '---'"
        )
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise EntryError(
            origin, "front matter", f"invalid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(meta, dict):
        raise EntryError(origin, "front matter", "must be a YAML mapping of fields")
    draft = bool(meta.get("draft", False))
    unknown = sorted(set(map(str, meta)) - KNOWN_FIELDS)
    if unknown:
        raise EntryError(origin, unknown[0], f"unknown field (known: {', '.join(sorted(KNOWN_FIELDS))})")
    required = ("id", "title") if draft else REQUIRED_FIELDS
    for name in required:
        if name not in meta or meta[name] is None:
            raise EntryError(origin, name, "missing")
    entry_id = _text(origin, "id", meta["id"])
    if not ID_PATTERN.match(entry_id):
        raise EntryError(origin, "id", f"{entry_id!r} must be lowercase kebab-case (a-z, 0-9, '-')")
    findings = _string_list(origin, "findings", meta.get("findings") or [], allow_empty=True)
    for code in findings:
        if code not in FINDING_CODES:
            raise EntryError(
                origin,
                "findings",
                f"unknown finding code {code!r} (known: {', '.join(sorted(FINDING_CODES))})",
            )
    sections = split_sections(text[match.end() :])
    if not draft:
        for name in REQUIRED_SECTIONS:
            if not sections.get(name):
                raise EntryError(origin, f"## {name}", "missing or empty section")
    return Entry(
        id=entry_id,
        title=_text(origin, "title", meta["title"]),
        summary=str(meta.get("summary") or "").strip()
        if draft
        else _text(origin, "summary", meta["summary"]),
        questions=_string_list(origin, "questions", meta.get("questions") or [], allow_empty=draft),
        tags=_string_list(origin, "tags", meta.get("tags") or [], allow_empty=draft),
        sources=_string_list(origin, "source", meta.get("source") or [], allow_empty=draft),
        findings=findings,
        related=_string_list(origin, "related", meta.get("related") or [], allow_empty=True),
        sections=sections,
        draft=draft,
        origin=origin,
    )


def validate_base(entries: Sequence[Entry]) -> list[EntryError]:
    """Cross-entry checks: duplicate ids and links to entries that do not exist."""
    errors: list[EntryError] = []
    first_origin: dict[str, str] = {}
    for entry in entries:
        if entry.id in first_origin:
            errors.append(
                EntryError(entry.origin, "id", f"duplicate id {entry.id!r}, also in {first_origin[entry.id]}")
            )
        else:
            first_origin[entry.id] = entry.origin
    for entry in entries:
        for target in entry.related:
            if target not in first_origin:
                errors.append(EntryError(entry.origin, "related", f"links to unknown entry {target!r}"))
            elif target == entry.id:
                errors.append(EntryError(entry.origin, "related", "links to itself"))
    return errors


def published(entries: Iterable[Entry]) -> list[Entry]:
    """Entries that may answer questions: drafts stay out until reviewed."""
    return [entry for entry in entries if not entry.draft]
