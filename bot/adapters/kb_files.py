"""The knowledge/ folder on disk: which files are entries, the synonym table, the questions that are
not ours, their fingerprints."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.domain import text
from bot.domain.entries import Entry, EntryError, parse_entry, validate_base
from bot.domain.synonyms import EMPTY, SynonymTable

SKIPPED_NAMES = frozenset({"README.md"})
SYNONYMS_FILE = "synonyms.yaml"
SYNONYMS_FORMAT = "deploybot-synonyms/1"
NOT_OURS_FILE = "not_ours.yaml"
NOT_OURS_FORMAT = "deploybot-not-ours/1"
_CONCEPT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def entry_files(root: Path) -> list[Path]:
    """Every `*.md` below root except READMEs, sorted so fingerprints are stable."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.md") if p.name not in SKIPPED_NAMES and p.is_file())


def indexed_files(root: Path) -> list[Path]:
    """What the compiled base is made of: the entries, the synonym table, the questions not ours."""
    tables = [root / name for name in (SYNONYMS_FILE, NOT_OURS_FILE)]
    return [*entry_files(root), *(t for t in tables if t.is_file())]


def stat_fingerprint(root: Path, salt: str) -> str:
    """Cheap change detector (names, sizes, mtimes); a miss falls back to the content hash."""
    digest = hashlib.sha256(salt.encode())
    for path in indexed_files(root):
        st = path.stat()
        digest.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def content_hash(root: Path, salt: str) -> str:
    digest = hashlib.sha256(salt.encode())
    for path in indexed_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedBase:
    #: entries that parsed and passed the cross-entry checks (a duplicate id keeps its first file)
    entries: tuple[Entry, ...]
    problems: tuple[EntryError, ...]
    synonyms: SynonymTable = EMPTY
    #: near-domain questions no entry answers (`not_ours.yaml`): they teach the ranking to say so
    not_ours: tuple[str, ...] = ()


def _origin(root: Path, path: Path) -> str:
    return str(path.relative_to(root.parent)) if root.parent != root else str(path)


def load_entries(root: Path) -> LoadedBase:
    """Parse every entry and the synonym table; collect all problems instead of stopping at the first.

    Broken entries are reported and left out, so the rest of the base still answers.
    """
    entries: list[Entry] = []
    problems: list[EntryError] = []
    for path in entry_files(root):
        origin = _origin(root, path)
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(EntryError(origin, "file", "is not UTF-8 text"))
            continue
        try:
            entries.append(parse_entry(raw, origin=origin))
        except EntryError as exc:
            problems.append(exc)
    cross = validate_base(entries)
    problems.extend(cross)
    table, synonym_problems = load_synonyms(root)
    problems.extend(synonym_problems)
    usable = _usable(entries, cross)
    not_ours, not_ours_problems = load_not_ours(root, usable)
    problems.extend(not_ours_problems)
    return LoadedBase(entries=usable, problems=tuple(problems), synonyms=table, not_ours=not_ours)


def _usable(entries: list[Entry], problems: list[EntryError]) -> tuple[Entry, ...]:
    """Drop the later file of a duplicate id and links that lead nowhere."""
    from dataclasses import replace

    seen: set[str] = set()
    kept: list[Entry] = []
    for entry in entries:
        if entry.id not in seen:
            seen.add(entry.id)
            kept.append(entry)
    if not problems:
        return tuple(kept)
    return tuple(replace(e, related=tuple(r for r in e.related if r in seen and r != e.id)) for e in kept)


class _YamlProblems:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.found: list[EntryError] = []

    def add(self, node: yaml.Node | None, where: str, problem: str) -> None:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        self.found.append(EntryError(f"{self.origin}{line}", where, problem))


def _compose(path: Path, problems: _YamlProblems) -> yaml.Node | None:
    """The file's YAML node tree, or None with the reason (not UTF-8, invalid YAML and where)."""
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        problems.add(None, "file", "is not UTF-8 text")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problems.add(None, "file", f"invalid YAML{where}: {getattr(exc, 'problem', exc)}")
    return None


def _has_format(
    fields: dict[str, yaml.Node], node: yaml.Node, expected: str, and_more: str, problems: _YamlProblems
) -> bool:
    """The file says which format it is written in, and it is the one this deploybot reads."""
    found = _scalar(fields["format"]) if "format" in fields else None
    if found == expected:
        return True
    problems.add(
        fields.get("format", node),
        "format",
        f"unknown format {found!r} (this deploybot reads {expected!r})"
        if found
        else f"missing (expected `format: {expected}`{and_more})",
    )
    return False


def _scalar(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null" and str(node.value).strip():
        return str(node.value)
    return None


def load_synonyms(root: Path) -> tuple[SynonymTable, list[EntryError]]:
    """`synonyms.yaml` next to the entries: concept groups, opposite pairs and whole words.

    Every problem names the line; the groups that are fine are still used, so one bad line does
    not take the table down at answer time. No file: no synonyms.
    """
    path = root / SYNONYMS_FILE
    if not path.is_file():
        return EMPTY, []
    problems = _YamlProblems(_origin(root, path))
    node = _compose(path, problems)
    if node is None:
        return EMPTY, problems.found
    if not isinstance(node, yaml.MappingNode):
        problems.add(node, "file", f"must be a mapping with `format: {SYNONYMS_FORMAT}` and `concepts`")
        return EMPTY, problems.found
    sections: dict[str, yaml.Node] = {}
    for key_node, value in node.value:
        key = _scalar(key_node) or ""
        if key not in {
            "format",
            "concepts",
            "opposites",
            "whole",
            "negation",
            "compare",
            "quantity",
            "restore",
            "ignore",
            "elsewhere",
        }:
            problems.add(
                key_node,
                key or "key",
                "unknown key (known: compare, concepts, elsewhere, format, ignore, negation, opposites,"
                " quantity, restore, whole)",
            )
        elif key in sections:
            problems.add(key_node, key, f"duplicate key (first on line {sections[key].start_mark.line + 1})")
        else:
            sections[key] = value
    if not _has_format(sections, node, SYNONYMS_FORMAT, "", problems):
        return EMPTY, problems.found
    groups = _groups(sections.get("concepts"), problems)
    opposites = _opposites(sections.get("opposites"), groups, problems)
    whole = _words_list(sections.get("whole"), "whole", problems)
    ignore = _words_list(sections.get("ignore"), "ignore", problems)
    negation = _named_concept(sections, "negation", groups, problems)
    compare = _words_list(sections.get("compare"), "compare", problems)
    quantity = _words_list(sections.get("quantity"), "quantity", problems)
    elsewhere = _concept_list(sections.get("elsewhere"), "elsewhere", groups, problems)
    restore = _restore(sections.get("restore"), groups, opposites, problems)
    table = SynonymTable(
        groups=groups,
        opposites=opposites,
        whole=whole,
        negation=negation,
        compare=compare,
        quantity=quantity,
        restore=restore,
        ignore=frozenset(ignore),
        elsewhere=frozenset(elsewhere),
    )
    return table, problems.found


def _named_concept(
    sections: dict[str, yaml.Node], key: str, groups: dict[str, tuple[str, ...]], problems: _YamlProblems
) -> str:
    """`negation: undo`: one concept of the table, or "" (with the problem named)."""
    name = _scalar(sections[key]) if key in sections else ""
    if name and name not in groups:
        problems.add(sections[key], key, f"unknown concept {name!r}")
        return ""
    return name or ""


def _groups(node: yaml.Node | None, problems: _YamlProblems) -> dict[str, tuple[str, ...]]:
    if not isinstance(node, yaml.MappingNode):
        problems.add(node, "concepts", "must be a mapping of concept name to a list of phrases")
        return {}
    groups: dict[str, tuple[str, ...]] = {}
    first_line: dict[str, int] = {}
    for key_node, value in node.value:
        name = _scalar(key_node) or ""
        where = f"concepts.{name}"
        if not _CONCEPT_NAME.match(name):
            problems.add(key_node, where, "concept names are lowercase letters, digits and _")
            continue
        if name in first_line:
            problems.add(key_node, where, f"duplicate concept (first on line {first_line[name]})")
            continue
        first_line[name] = key_node.start_mark.line + 1
        if not isinstance(value, yaml.SequenceNode) or not value.value:
            problems.add(value, where, "empty group: list at least one phrase")
            continue
        phrases: dict[str, int] = {}
        for item in value.value:
            raw = _scalar(item)
            phrase = text.normalize(raw, limit=None) if raw is not None else ""
            if not phrase:
                problems.add(item, where, "phrases must be non-empty strings")
            elif phrase in phrases:
                problems.add(item, where, f"duplicate phrase {phrase!r} (also on line {phrases[phrase]})")
            else:
                phrases[phrase] = item.start_mark.line + 1
        if phrases:
            groups[name] = tuple(phrases)
    return groups


def _opposites(
    node: yaml.Node | None, groups: dict[str, tuple[str, ...]], problems: _YamlProblems
) -> tuple[tuple[str, str], ...]:
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.add(node, "opposites", "must be a list of [concept, concept] pairs")
        return ()
    pairs: list[tuple[str, str]] = []
    for item in node.value:
        names = [_scalar(n) for n in item.value] if isinstance(item, yaml.SequenceNode) else []
        if len(names) != 2 or not all(names):
            problems.add(item, "opposites", "each entry is a pair: [concept, concept]")
            continue
        a, b = str(names[0]), str(names[1])
        unknown = [n for n in (a, b) if n not in groups]
        if unknown:
            problems.add(item, "opposites", f"unknown concept {unknown[0]!r}")
        elif a == b:
            problems.add(item, "opposites", f"{a!r} cannot be its own opposite")
        else:
            pairs.append((a, b))
    return tuple(pairs)


def _concept_list(
    node: yaml.Node | None, where: str, groups: dict[str, tuple[str, ...]], problems: _YamlProblems
) -> list[str]:
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        problems.add(node, where, "must be a list of concept names")
        return []
    names: list[str] = []
    for item in node.value:
        name = _scalar(item) or ""
        if name not in groups:
            problems.add(item, where, f"unknown concept {name!r}")
        elif name in names:
            problems.add(item, where, f"duplicate concept {name!r}")
        else:
            names.append(name)
    return names


def _restore(
    node: yaml.Node | None,
    groups: dict[str, tuple[str, ...]],
    opposites: tuple[tuple[str, str], ...],
    problems: _YamlProblems,
) -> dict[str, frozenset[str]]:
    """`restore: {recover: [cordon, scaledown]}`: each state must be one side of an opposite pair."""
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        problems.add(node, "restore", "must map a concept to the pair sides it asks the way back from")
        return {}
    sides = {c for pair in opposites for c in pair}
    restore: dict[str, frozenset[str]] = {}
    for key_node, value in node.value:
        name = _scalar(key_node) or ""
        where = f"restore.{name}"
        if name not in groups:
            problems.add(key_node, where, f"unknown concept {name!r}")
            continue
        states = _concept_list(value, where, groups, problems)
        for state in states:
            if state not in sides:
                problems.add(value, where, f"{state!r} is not one side of an `opposites` pair")
        restore[name] = frozenset(s for s in states if s in sides)
    return restore


def _words_list(node: yaml.Node | None, where: str, problems: _YamlProblems) -> tuple[str, ...]:
    if node is None:
        return ()
    if not isinstance(node, yaml.SequenceNode):
        problems.add(node, where, "must be a list of words")
        return ()
    words: dict[str, int] = {}
    for item in node.value:
        raw = _scalar(item)
        word = text.normalize(raw, limit=None) if raw is not None else ""
        if not word:
            problems.add(item, where, "words must be non-empty strings")
        elif word in words:
            problems.add(item, where, f"duplicate word {word!r} (also on line {words[word]})")
        else:
            words[word] = item.start_mark.line + 1
    return tuple(words)


def load_not_ours(root: Path, entries: Sequence[Entry] = ()) -> tuple[tuple[str, ...], list[EntryError]]:
    """`not_ours.yaml`: questions near the base's domain that no entry answers (an HPA how-to, an
    RDS replica lag). The ranking learns from them to say "I don't know" instead of answering
    with the entry that shares the most words.

    A question that is also an entry's title or example is a contradiction: reported and left
    out. No file: nothing is learned, everything else works as before.
    """
    path = root / NOT_OURS_FILE
    if not path.is_file():
        return (), []
    problems = _YamlProblems(_origin(root, path))
    node = _compose(path, problems)
    if node is None:
        return (), problems.found
    fields = dict((_scalar(k) or "", v) for k, v in node.value) if isinstance(node, yaml.MappingNode) else {}
    if not _has_format(fields, node, NOT_OURS_FORMAT, " and a `questions` list", problems):
        return (), problems.found
    unknown = sorted(set(fields) - {"format", "questions"})
    if unknown:
        problems.add(node, unknown[0] or "key", "unknown key (known: format, questions)")
    asked = {text.normalize(q, limit=None): e.id for e in entries for q in (e.title, *e.questions)}
    questions: dict[str, tuple[str, int]] = {}
    listed = fields.get("questions")
    if not isinstance(listed, yaml.SequenceNode):
        problems.add(listed if listed is not None else node, "questions", "must be a list of questions")
        return (), problems.found
    for item in listed.value:
        raw = _scalar(item)
        key = text.normalize(raw, limit=None) if raw is not None else ""
        if raw is None or not key:
            problems.add(item, "questions", "questions must be non-empty strings")
        elif len(key) > text.MAX_QUERY_CHARS:
            problems.add(
                item, "questions", f"longer than a question may be ({text.MAX_QUERY_CHARS} characters)"
            )
        elif key in questions:
            problems.add(item, "questions", f"duplicate question (also on line {questions[key][1]})")
        elif key in asked:
            problems.add(item, "questions", f"{raw!r} is also a question of entry {asked[key]!r}: left out")
        else:
            questions[key] = (raw, item.start_mark.line + 1)
    return tuple(raw for raw, _ in questions.values()), problems.found
