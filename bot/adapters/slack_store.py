"""What the Slack app keeps between requests, in the shared state database: answer feedback
and which environment a thread is about. Button values carry their own meaning, signed
(bot/slack/button_values.py), so no button depends on the pod that rendered it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bot.adapters.state_db import StateDB, feedback, thread_contexts

#: threads older than this no longer steer follow-ups ("那怎么回滚?" a month later is a new question)
THREAD_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class FeedbackRow:
    question: str
    entry_id: str
    confident: bool
    votes_up: int
    votes_down: int


class SlackStore:
    def __init__(self, db: StateDB | Path | str) -> None:
        self._owned = not isinstance(db, StateDB)
        self.db = db if isinstance(db, StateDB) else StateDB.open(db)

    def record_feedback(self, *, user: str, question: str, entry_id: str, confident: bool, vote: str) -> None:
        row = {
            "at": time.time(),
            "user": user,
            "question": question[:500],
            "entry_id": entry_id,
            "confident": int(confident),
            "vote": vote,
        }
        with self.db.begin() as conn:
            conn.execute(feedback.insert().values(**row))

    def feedback_summary(self, limit: int = 50) -> list[FeedbackRow]:
        """Questions answered without confidence or voted down first: what the base should learn next."""
        up = sa.func.sum(sa.case((feedback.c.vote == "up", 1), else_=0))
        down = sa.func.sum(sa.case((feedback.c.vote == "down", 1), else_=0))
        confident = sa.func.max(feedback.c.confident)
        needs_work = sa.case((sa.or_(confident == 0, down > 0), 1), else_=0)
        query = (
            sa.select(feedback.c.question, feedback.c.entry_id, confident, up, down)
            .group_by(feedback.c.question, feedback.c.entry_id)
            .order_by(needs_work.desc(), sa.func.max(feedback.c.at).desc())
            .limit(limit)
        )
        with self.db.begin() as conn:
            rows = conn.execute(query).all()
        return [FeedbackRow(r[0], r[1], bool(r[2]), int(r[3]), int(r[4])) for r in rows]

    def remember_thread(self, thread_ts: str, environment: str) -> None:
        values = {"environment": environment, "updated_at": time.time()}
        statement = (
            self.db.upsert(thread_contexts)
            .values(thread_ts=thread_ts, **values)
            .on_conflict_do_update(index_elements=[thread_contexts.c.thread_ts], set_=values)
        )
        with self.db.begin() as conn:
            conn.execute(statement)

    def thread_environment(self, thread_ts: str) -> str | None:
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(thread_contexts.c.environment, thread_contexts.c.updated_at).where(
                    thread_contexts.c.thread_ts == thread_ts
                )
            ).first()
        if row is None or time.time() - float(row[1]) > THREAD_TTL_SECONDS:
            return None
        return str(row[0])

    def close(self) -> None:
        if self._owned:
            self.db.close()
