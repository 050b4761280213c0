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
    """Cross-entry checks: duplicate ids, links to entries that do not exist, example names in commands."""
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
    for entry in entries:
        names = example_names(entry)
        if names and not entry.draft:
            errors.append(
                EntryError(
                    entry.origin,
                    "commands",
                    f"use <placeholders>, not example object names: {', '.join(names)}",
                )
            )
    return errors


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_CODE_BLOCK = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.S | re.M)
_INLINE_CODE = re.compile(r"`((?:kubectl|docker|gcloud|helm) [^`]+)`")
#: kubectl verbs whose arguments name objects: `kubectl <verb> <kind> <name>`, `<verb> <kind>/<name>`
_NAMING_VERBS = _word_set(
    "get describe delete edit logs exec cordon uncordon drain scale set patch label annotate "
    "port-forward attach rollout run expose create top"
)
#: literal names that are not a tutorial's objects
_LITERAL_NAMES = frozenset(
    {"default", "kube-system", "kube-public", "all", "nodes", "pods", "busybox", "tmp"}
)
_VALUE_FLAGS = _word_set(
    "-n --namespace -c --container -f --filename -l --selector -o --output -p --patch --tail --since "
    "--sort-by --field-selector -L --label-columns --type"
)
_NAME_FLAGS = frozenset({"-c", "--container", "-f", "--filename"})
_ZONE = re.compile(r"(?<![\w-])(?:[a-z]{2}-[a-z]+\d-[a-z]|[a-z]{2}-[a-z]+-[a-z])(?![\w-])")
_IMAGE_LINE = re.compile(r"^\s*-?\s*image:\s*(\S+)")
_KINDS = _word_set(
    "pod pods po deployment deployments deploy rs replicaset statefulset sts daemonset ds service svc "
    "configmap configmaps cm secret secrets pvc pv node nodes no ns namespace ingress job cronjob "
    "serviceaccount sa resourcequota quota limitrange"
)


def _placeholder(value: str) -> bool:
    return "<" in value or "$" in value or value in _LITERAL_NAMES


def _kubectl_names(words: list[str]) -> list[str]:
    """Object names a kubectl command spells out instead of leaving as <placeholders>."""
    found: list[str] = []
    args: list[str] = []
    skip = False
    for word in words[1:]:
        if word.startswith("#") or word in {"|", "||", "&&", ";", ">", "2>&1"}:
            break
        if skip:
            skip = False
            if not _placeholder(word) and args and args[-1] in _NAME_FLAGS:
                found.append(word)
            continue
        if word.startswith("-"):
            flag, _, value = word.partition("=")
            if flag in {"--image", "--zone", "--region"} and value and not _placeholder(value):
                found.append(value)
            if not value and flag in _VALUE_FLAGS:
                skip = True
                args.append(flag)
            continue
        args.append(word)
    positional = [a for a in args if not a.startswith("-")]
    if len(positional) > 1 and positional[0] == "auth":
        return found
    if not positional or positional[0] not in _NAMING_VERBS:
        return found
    verb, rest = positional[0], positional[1:]
    if verb in {"rollout", "set", "create"} and rest and rest[0] not in _KINDS:
        rest = rest[1:]  # rollout status X, set image X, create secret docker-registry X
    if verb == "create" and rest[:1] == ["secret"] and len(rest) > 1:
        rest = rest[1:]
    for i, arg in enumerate(rest):
        kind, slash, name = arg.partition("/")
        named = bool(slash) and kind in _KINDS and not _placeholder(name)
        bare = "=" not in arg and "/" not in arg and not _placeholder(arg)
        typed = i == 1 and rest[0] in _KINDS and bare
        direct = i == 0 and verb in {"run", "cordon", "uncordon", "drain", "logs", "exec", "attach"}
        if named or typed or (direct and bare and arg not in _KINDS):
            found.append(arg)
    return found


def example_names(entry: Entry) -> list[str]:
    """Object names copied from a tutorial into the entry's commands (`special-config`,
    `rosskukulinski/dne`, `us-central1-a`) where a reader needs a <placeholder>."""
    found: list[str] = []
    commands: list[str] = []
    for section in entry.sections.values():
        for block in _CODE_BLOCK.findall(section):
            for line in block.splitlines():
                image = _IMAGE_LINE.match(line)
                if image and not _placeholder(image.group(1)):
                    found.append(image.group(1))
                commands.append(line.strip().removeprefix("$ "))
        commands.extend(_INLINE_CODE.findall(section))
    for command in commands:
        found.extend(_ZONE.findall(command))
        words = command.split()
        if not words:
            continue
        if words[0] == "kubectl":
            found.extend(_kubectl_names(words))
        elif words[0] == "docker" and len(words) > 2 and words[1] in {"pull", "push", "run", "build", "tag"}:
            images = [w for w in words[2:] if not w.startswith("-") and w not in {".", "--rm"}]
            found.extend(w for w in images[:1] if not _placeholder(w))
    return list(dict.fromkeys(found))


def published(entries: Iterable[Entry]) -> list[Entry]:
    """Entries that may answer questions: drafts stay out until reviewed."""
    return [entry for entry in entries if not entry.draft]
