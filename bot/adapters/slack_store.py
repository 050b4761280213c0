"""What the Slack app keeps between requests: button references and answer feedback (SQLite).

A button carries only an opaque reference (`r-3f9c…`); what it means — environment, action,
target, the state it was made against — stays here, so a forged or edited button value
can name nothing but an existing reference, and every click is re-checked by the engine.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from bot.adapters.sqlite_state import SqliteState

SCHEMA = """
create table if not exists button_refs (
  ref text primary key, payload text not null, created_at real not null
);
create table if not exists feedback (
  id integer primary key autoincrement, at real not null, user text not null, question text not null,
  entry_id text not null, confident integer not null, vote text not null
);
"""
#: buttons older than this are refused as stale (Slack keeps messages forever)
REF_TTL_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class FeedbackRow:
    question: str
    entry_id: str
    confident: bool
    votes_up: int
    votes_down: int


class SlackStore(SqliteState):
    SCHEMA = SCHEMA

    def save_ref(self, payload: Mapping[str, Any]) -> str:
        ref = "r-" + secrets.token_urlsafe(12)
        with closing(self._connect()) as conn:
            conn.execute(
                "insert into button_refs (ref, payload, created_at) values (?, ?, ?)",
                (ref, json.dumps(dict(payload), ensure_ascii=False), time.time()),
            )
        return ref

    def load_ref(self, ref: str) -> dict[str, Any] | None:
        """The payload behind a button, or None when unknown or expired."""
        if not ref.startswith("r-") or len(ref) > 64:
            return None
        with closing(self._connect()) as conn:
            row = conn.execute("select payload, created_at from button_refs where ref = ?", (ref,)).fetchone()
        if row is None or time.time() - row[1] > REF_TTL_SECONDS:
            return None
        payload: dict[str, Any] = json.loads(row[0])
        return payload

    def record_feedback(self, *, user: str, question: str, entry_id: str, confident: bool, vote: str) -> None:
        with closing(self._connect()) as conn:
            conn.execute(
                "insert into feedback (at, user, question, entry_id, confident, vote)"
                " values (?, ?, ?, ?, ?, ?)",
                (time.time(), user, question[:500], entry_id, int(confident), vote),
            )

    def feedback_summary(self, limit: int = 50) -> list[FeedbackRow]:
        """Questions answered without confidence or voted down first: what the base should learn next."""
        query = (
            "select question, entry_id, max(confident), sum(vote = 'up'), sum(vote = 'down') from feedback"
            " group by question, entry_id"
            " order by (max(confident) = 0 or sum(vote = 'down') > 0) desc, max(at) desc limit ?"
        )
        with closing(self._connect()) as conn:
            rows = conn.execute(query, (limit,)).fetchall()
        return [FeedbackRow(r[0], r[1], bool(r[2]), int(r[3]), int(r[4])) for r in rows]
