"""Idempotency keys and the audit trail, in SQLite (WAL: durable, readable while written).

A key is claimed inside one `BEGIN IMMEDIATE` transaction, so two processes or threads
pressing the same button race on SQLite's write lock and exactly one wins. A key whose
action failed or was refused can be claimed again: only a finished action is final.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from bot.adapters.sqlite_state import SqliteState

SCHEMA = """
create table if not exists action_keys (
  key text primary key, environment text not null, action text not null, target text not null,
  actor text not null, state text not null, message text not null default '',
  started_at real not null, finished_at real
);
create table if not exists audit (
  id integer primary key autoincrement, at real not null, actor text not null,
  environment text not null, action text not null, target text not null, params text not null,
  outcome text not null, message text not null, key text
);
create index if not exists audit_by_environment on audit (environment, at);
"""


_HOLDER_SQL = "select actor, state, message, coalesce(finished_at, started_at) from action_keys where key = ?"
_CLAIM_SQL = (
    "insert or replace into action_keys (key, environment, action, target, actor, state, started_at)"
    " values (?, ?, ?, ?, ?, 'running', ?)"
)


@dataclass(frozen=True)
class Claim:
    won: bool
    #: who holds the key and in which state, when another request got there first
    actor: str = ""
    state: str = ""
    message: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class AuditRow:
    at: float
    actor: str
    environment: str
    action: str
    target: str
    params: Mapping[str, str]
    outcome: str
    message: str


class ActionStore(SqliteState):
    SCHEMA = SCHEMA

    def claim(self, key: str, *, environment: str, action: str, target: str, actor: str) -> Claim:
        with self._immediate() as conn:
            row = conn.execute(_HOLDER_SQL, (key,)).fetchone()
            if row is not None and row[1] in ("running", "done"):
                return Claim(False, actor=row[0], state=row[1], message=row[2], at=row[3])
            conn.execute(
                _CLAIM_SQL,
                (key, environment, action, target, actor, time.time()),
            )
        return Claim(True)

    def holder(self, key: str) -> Claim | None:
        """Who already ran (or is running) this key, if anyone: checked before planning, so a
        repeated click says "already done" rather than "stale" once the first one changed things."""
        with closing(self._connect()) as conn:
            row = conn.execute(_HOLDER_SQL, (key,)).fetchone()
        if row is None or row[1] not in ("running", "done"):
            return None
        return Claim(False, actor=row[0], state=row[1], message=row[2], at=row[3])

    def finish(self, key: str, *, state: str, message: str) -> None:
        with self._immediate() as conn:
            conn.execute(
                "update action_keys set state = ?, message = ?, finished_at = ? where key = ?",
                (state, message, time.time(), key),
            )

    def audit(
        self,
        *,
        actor: str,
        environment: str,
        action: str,
        target: str,
        params: Mapping[str, Any],
        outcome: str,
        message: str,
        key: str | None,
    ) -> None:
        with self._immediate() as conn:
            conn.execute(
                "insert into audit (at, actor, environment, action, target, params, outcome, message, key)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    actor,
                    environment,
                    action,
                    target,
                    json.dumps(dict(params), ensure_ascii=False),
                    outcome,
                    message,
                    key,
                ),
            )

    def recent(self, environment: str | None = None, limit: int = 20) -> list[AuditRow]:
        query = "select at, actor, environment, action, target, params, outcome, message from audit"
        args: tuple[Any, ...] = ()
        if environment:
            query += " where environment = ?"
            args = (environment,)
        with closing(self._connect()) as conn:
            rows = conn.execute(query + " order by id desc limit ?", (*args, limit)).fetchall()
        return [AuditRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]
