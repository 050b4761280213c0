"""The compiled knowledge base in SQLite.

Written with sqlite-utils (schema, upserts, indexes). Read with the standard sqlite3 module,
because `deploybot ask` must start fast and sqlite-utils costs ~0.3 s to import.
The ranking index is stored as one marshal blob: loading it is a single read, no parsing.
"""

from __future__ import annotations

import json
import marshal
import os
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain.entries import Entry
from bot.domain.retrieval import Index

SCHEMA_VERSION = 1


def write_base(
    path: Path | None, entries: Sequence[Entry], index: Index, meta: dict[str, str]
) -> sqlite3.Connection:
    """Compile to `path` atomically (temp file + rename), or into memory when path is None."""
    import sqlite_utils

    if path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        _fill(sqlite_utils.Database(conn), entries, index, meta)
        return conn
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".knowledge-", suffix=".sqlite", dir=path.parent)
    os.close(fd)
    try:
        db = sqlite_utils.Database(tmp_name)
        _fill(db, entries, index, meta)
        db.close()
        # mkstemp makes it 0600; the compiled base holds nothing secret and other users (an image's
        # runtime uid) must be able to read it, so the usual file mode, minus the umask
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return connect(path)


def _fill(db: Any, entries: Sequence[Entry], index: Index, meta: dict[str, str]) -> None:
    columns: dict[str, type] = {
        "id": str,
        "title": str,
        "summary": str,
        "questions": str,
        "tags": str,
        "sources": str,
    }
    columns |= {"findings": str, "related": str, "sections": str, "draft": int, "origin": str}
    db["entries"].create(columns, pk="id")
    db["entries"].insert_all(
        (
            {
                "id": e.id,
                "title": e.title,
                "summary": e.summary,
                "questions": json.dumps(e.questions, ensure_ascii=False),
                "tags": json.dumps(e.tags, ensure_ascii=False),
                "sources": json.dumps(e.sources, ensure_ascii=False),
                "findings": json.dumps(e.findings),
                "related": json.dumps(e.related),
                "sections": json.dumps(e.sections, ensure_ascii=False),
                "draft": int(e.draft),
                "origin": e.origin,
            }
            for e in entries
        ),
    )
    links = db["entry_findings"].create({"entry_id": str, "code": str}, pk=("entry_id", "code"))
    links.insert_all({"entry_id": e.id, "code": code} for e in entries if not e.draft for code in e.findings)
    links.create_index(["code"])
    db["ranking_index"].insert({"id": 1, "data": marshal.dumps(index.to_plain())}, pk="id")
    db["meta"].insert_all(
        (
            {"key": k, "value": v}
            for k, v in {**meta, "schema": str(SCHEMA_VERSION), "built_at": str(time.time())}.items()
        ),
        pk="key",
    )


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)


def read_meta(path: Path) -> dict[str, str]:
    """Meta of a compiled base, or {} when it is missing, unreadable or of another schema."""
    if not path.is_file():
        return {}
    try:
        conn = connect(path)
        try:
            meta = dict(conn.execute("select key, value from meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return meta if meta.get("schema") == str(SCHEMA_VERSION) else {}


def update_meta(path: Path, key: str, value: str) -> None:
    try:
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("update meta set value = ? where key = ?", (value, key))
        conn.close()
    except sqlite3.Error:
        pass  # only a cache hint: the next start re-checks the content hash


def _entry_from_row(row: sqlite3.Row) -> Entry:
    return Entry(
        id=row["id"],
        title=row["title"],
        summary=row["summary"],
        questions=tuple(json.loads(row["questions"])),
        tags=tuple(json.loads(row["tags"])),
        sources=tuple(json.loads(row["sources"])),
        findings=tuple(json.loads(row["findings"])),
        related=tuple(json.loads(row["related"])),
        sections=json.loads(row["sections"]),
        draft=bool(row["draft"]),
        origin=row["origin"],
    )


@dataclass
class CompiledBase:
    """A read handle: the ranking index in memory, entries fetched by id on demand."""

    conn: sqlite3.Connection
    index: Index
    _cache: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def open(cls, conn: sqlite3.Connection) -> CompiledBase:
        conn.row_factory = sqlite3.Row
        (blob,) = conn.execute("select data from ranking_index where id = 1").fetchone()
        return cls(conn=conn, index=Index.from_plain(marshal.loads(blob)))

    def entry(self, entry_id: str) -> Entry | None:
        if entry_id not in self._cache:
            row = self.conn.execute("select * from entries where id = ?", (entry_id,)).fetchone()
            if row is None:
                return None
            self._cache[entry_id] = _entry_from_row(row)
        return self._cache[entry_id]

    def entries(self, *, include_drafts: bool = False) -> list[Entry]:
        sql = "select * from entries" + ("" if include_drafts else " where draft = 0") + " order by id"
        return [_entry_from_row(row) for row in self.conn.execute(sql)]

    def entries_for_finding(self, code: str) -> list[Entry]:
        rows = self.conn.execute(
            "select e.* from entries e join entry_findings f on f.entry_id = e.id"
            " where f.code = ? order by e.id",
            (code,),
        ).fetchall()
        return [_entry_from_row(row) for row in rows]

    def close(self) -> None:
        self.conn.close()
