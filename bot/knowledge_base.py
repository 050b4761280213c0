"""Open the knowledge base, compiling it first when it is missing or stale.

Staleness is decided by a content hash of the entry files and the synonym table
(`synonyms.yaml`), salted with everything else that changes how they are indexed (stop words,
field weights, the index format, Python's marshal format). A cheap stat
fingerprint short-circuits the hash on the common path where nothing changed.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.adapters import kb_files, kb_store
from bot.config import Settings
from bot.domain import retrieval, text
from bot.domain.entries import SECTION_STEPS, Entry, published
from bot.errors import KnowledgeError

log = logging.getLogger(__name__)
INDEX_FORMAT = "7"


def analyzer_salt() -> str:
    tables = repr((INDEX_FORMAT, sorted(text.STOPWORDS), retrieval.BIGRAM_PREFIX))
    tables += repr((retrieval.FIELD_WEIGHTS, retrieval.FIELD_B, sys.version_info[:2]))
    return hashlib.sha256(tables.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BuildReport:
    entries: int
    drafts: int
    path: Path | None
    content_hash: str
    #: problems of a lenient build: the files named here were left out (or the line skipped)
    problems: tuple[str, ...] = ()


def build(
    settings: Settings, *, to_disk: bool = True, strict: bool = True
) -> tuple[BuildReport, sqlite3.Connection]:
    """Validate every entry and the synonym table, and compile.

    Strict (`kb build`): raises KnowledgeError naming each bad file, line and field. Lenient (at
    answer time): the broken entries are logged and left out, so the rest still answers.
    """
    root = settings.knowledge_dir
    if not root.is_dir():
        raise KnowledgeError([f"{root}: knowledge folder not found (set DEPLOYBOT_KNOWLEDGE_DIR)"])
    salt = analyzer_salt()
    loaded = kb_files.load_entries(root)
    problems = tuple(str(p) for p in loaded.problems)
    if problems and strict:
        raise KnowledgeError(problems)
    for problem in problems:
        log.warning("knowledge base: %s (left out)", problem)
    answerable = published(loaded.entries)
    index = retrieval.build_index(answerable, loaded.synonyms, loaded.not_ours)
    digest = kb_files.content_hash(root, salt)
    meta = {
        "content_hash": digest,
        "stat_fingerprint": kb_files.stat_fingerprint(root, salt),
        "source": str(root),
    }
    path = settings.knowledge_db if to_disk else None
    try:
        conn = kb_store.write_base(path, loaded.entries, index, meta)
    except OSError as exc:
        log.warning("cannot write %s (%s); keeping the knowledge base in memory", path, exc)
        path = None
        conn = kb_store.write_base(None, loaded.entries, index, meta)
    report = BuildReport(len(answerable), len(loaded.entries) - len(answerable), path, digest, problems)
    return report, conn


def is_fresh(settings: Settings) -> bool:
    meta = kb_store.read_meta(settings.knowledge_db)
    if not meta or meta.get("source") != str(settings.knowledge_dir):
        return False
    salt = analyzer_salt()
    fingerprint = kb_files.stat_fingerprint(settings.knowledge_dir, salt)
    if meta.get("stat_fingerprint") == fingerprint:
        return True
    if meta.get("content_hash") == kb_files.content_hash(settings.knowledge_dir, salt):
        kb_store.update_meta(settings.knowledge_db, "stat_fingerprint", fingerprint)
        return True
    return False


class KnowledgeBase:
    """What the services ask: rank a question, fetch entries, find entries for a finding code."""

    def __init__(self, compiled: kb_store.CompiledBase) -> None:
        self._compiled = compiled
        self._sentences: dict[str, tuple[retrieval.Sentences, retrieval.Sentences]] = {}

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeBase:
        if is_fresh(settings):
            try:
                return cls(kb_store.CompiledBase.open(kb_store.connect(settings.knowledge_db)))
            except (sqlite3.Error, ValueError, EOFError, TypeError) as exc:
                log.warning("compiled knowledge base unreadable (%s); rebuilding", exc)
        _, conn = build(settings, strict=False)
        return cls(kb_store.CompiledBase.open(conn))

    @property
    def index(self) -> retrieval.Index:
        return self._compiled.index

    def search(self, question: str) -> retrieval.Ranking:
        return retrieval.search(self._compiled.index, question)

    def evidence(self, entry: Entry, terms: Sequence[str], *, quantity: bool = False) -> str:
        """The entry's sentence that answers the question when its summary and steps do not."""
        if entry.id not in self._sentences:
            unprinted = "\n\n".join(body for name, body in entry.sections.items() if name != SECTION_STEPS)
            self._sentences[entry.id] = (
                retrieval.analyzed_sentences(self.index, f"{entry.summary}\n{entry.steps}"),
                retrieval.analyzed_sentences(self.index, unprinted),
            )
        printed, unprinted_sentences = self._sentences[entry.id]
        return retrieval.evidence(self.index, terms, printed, unprinted_sentences, quantity=quantity)

    def entry(self, entry_id: str) -> Entry | None:
        return self._compiled.entry(entry_id)

    def entries(self, *, include_drafts: bool = False) -> list[Entry]:
        return self._compiled.entries(include_drafts=include_drafts)

    def entries_for_finding(self, code: str) -> list[Entry]:
        return self._compiled.entries_for_finding(code)

    def close(self) -> None:
        self._compiled.close()
