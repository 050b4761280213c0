"""The bot's small durable state in SQLite: WAL, one short-lived connection per operation
(safe across threads and processes), write transactions that take the lock up front."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


class SqliteState:
    SCHEMA = ""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = str(path)
        with closing(self._connect()) as conn:
            conn.execute("pragma journal_mode=wal")
            conn.executescript(self.SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        conn.execute("pragma synchronous=normal")
        return conn

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: two writers race on SQLite's lock, and exactly one goes first."""
        with closing(self._connect()) as conn:
            conn.execute("begin immediate")
            try:
                yield conn
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")

    def close(self) -> None:
        """Nothing stays open between operations; kept for symmetry with other stores."""
