"""Idempotency keys and the audit trail, in the state database (SQLite or PostgreSQL).

A key is claimed with one INSERT … ON CONFLICT DO UPDATE … WHERE the holder's action did not
finish: the database decides which of two racing processes wins, whatever the backend. A key
whose action failed or was refused can be claimed again: only a finished action is final.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.adapters.state_db import StateDB, action_keys, audit

_FINAL = ("running", "done")


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
    os_user: str | None = None
    via: str | None = None


class ActionStore:
    """`via` (cli, slack) and `os_user` (who ran the process) go on every audit row it writes:
    `--as` says who the action is for; the OS user says who typed it."""

    def __init__(
        self, db: StateDB | Path | str, *, via: str | None = None, os_user: str | None = None
    ) -> None:
        self._owned = not isinstance(db, StateDB)
        self.db = db if isinstance(db, StateDB) else StateDB.open(db)
        self.via, self.os_user = via, os_user

    def claim(self, key: str, *, environment: str, action: str, target: str, actor: str) -> Claim:
        values = {"environment": environment, "action": action, "target": target, "actor": actor}
        fresh = {**values, "state": "running", "message": "", "started_at": time.time(), "finished_at": None}
        statement = (
            self.db.upsert(action_keys)
            .values(key=key, **fresh)
            .on_conflict_do_update(
                index_elements=[action_keys.c.key],
                set_=fresh,
                where=action_keys.c.state.not_in(_FINAL),
            )
            .returning(action_keys.c.key)
        )
        with self.db.begin() as conn:
            won = conn.execute(statement).first() is not None
            if won:
                return Claim(True)
            return _holder(conn, key) or Claim(False)

    def holder(self, key: str) -> Claim | None:
        """Who already ran (or is running) this key, if anyone: checked before planning, so a
        repeated click says "already done" rather than "stale" once the first one changed things."""
        with self.db.begin() as conn:
            return _holder(conn, key)

    def finish(self, key: str, *, state: str, message: str) -> None:
        with self.db.begin() as conn:
            conn.execute(
                action_keys.update()
                .where(action_keys.c.key == key)
                .values(state=state, message=message, finished_at=time.time())
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
        row = {
            "at": time.time(),
            "actor": actor,
            "environment": environment,
            "action": action,
            "target": target,
            "params": json.dumps(dict(params), ensure_ascii=False),
            "outcome": outcome,
            "message": message,
            "key": key,
            "os_user": self.os_user,
            "via": self.via,
        }
        with self.db.begin() as conn:
            conn.execute(audit.insert().values(**row))

    def recent(self, environment: str | None = None, limit: int = 20) -> list[AuditRow]:
        query = sa.select(
            audit.c.at,
            audit.c.actor,
            audit.c.environment,
            audit.c.action,
            audit.c.target,
            audit.c.params,
            audit.c.outcome,
            audit.c.message,
            audit.c.os_user,
            audit.c.via,
        )
        if environment:
            query = query.where(audit.c.environment == environment)
        with self.db.begin() as conn:
            rows = conn.execute(query.order_by(audit.c.id.desc()).limit(limit)).all()
        return [
            AuditRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8], r[9]) for r in rows
        ]

    def close(self) -> None:
        """A shared StateDB is closed by whoever opened it; one opened from a path is ours."""
        if self._owned:
            self.db.close()


def _holder(conn: sa.Connection, key: str) -> Claim | None:
    row = conn.execute(
        sa.select(
            action_keys.c.actor,
            action_keys.c.state,
            action_keys.c.message,
            sa.func.coalesce(action_keys.c.finished_at, action_keys.c.started_at),
        ).where(action_keys.c.key == key)
    ).first()
    if row is None or row[1] not in _FINAL:
        return None
    return Claim(False, actor=row[0], state=row[1], message=row[2], at=float(row[3]))
