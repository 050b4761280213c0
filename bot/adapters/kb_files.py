"""The knowledge/ folder on disk: which files are entries, their fingerprints, and parsing them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.domain.entries import Entry, EntryError, parse_entry, validate_base

SKIPPED_NAMES = frozenset({"README.md"})


def entry_files(root: Path) -> list[Path]:
    """Every `*.md` below root except READMEs, sorted so fingerprints are stable."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.md") if p.name not in SKIPPED_NAMES and p.is_file())


def stat_fingerprint(root: Path, salt: str) -> str:
    """Cheap change detector (names, sizes, mtimes); a miss falls back to the content hash."""
    digest = hashlib.sha256(salt.encode())
    for path in entry_files(root):
        st = path.stat()
        digest.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def content_hash(root: Path, salt: str) -> str:
    digest = hashlib.sha256(salt.encode())
    for path in entry_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedBase:
    entries: tuple[Entry, ...]
    problems: tuple[EntryError, ...]


def load_entries(root: Path) -> LoadedBase:
    """Parse every entry; collect all problems instead of stopping at the first."""
    entries: list[Entry] = []
    problems: list[EntryError] = []
    for path in entry_files(root):
        origin = str(path.relative_to(root.parent)) if root.parent != root else str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(EntryError(origin, "file", "is not UTF-8 text"))
            continue
        try:
            entries.append(parse_entry(text, origin=origin))
        except EntryError as exc:
            problems.append(exc)
    problems.extend(validate_base(entries))
    return LoadedBase(entries=tuple(entries), problems=tuple(problems))
