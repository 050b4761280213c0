"""On-call incidents in the shared state database: one row per environment, the `Incident` as
JSON, so a restart or another replica continues the same thread instead of posting again."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.adapters.state_db import StateDB, incidents
from bot.domain.incidents import Incident


class IncidentStore:
    def __init__(self, db: StateDB | Path | str) -> None:
        self._owned = not isinstance(db, StateDB)
        self.db = db if isinstance(db, StateDB) else StateDB.open(db)

    def load(self, environment: str) -> Incident | None:
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(incidents.c.state).where(incidents.c.environment == environment)
            ).first()
        return _decode(json.loads(row[0])) if row else None

    def save(self, incident: Incident) -> None:
        values = {"state": json.dumps(_encode(incident)), "updated_at": time.time()}
        statement = (
            self.db.upsert(incidents)
            .values(environment=incident.environment, **values)
            .on_conflict_do_update(index_elements=[incidents.c.environment], set_=values)
        )
        with self.db.begin() as conn:
            conn.execute(statement)

    def close(self) -> None:
        if self._owned:
            self.db.close()


def _encode(incident: Incident) -> dict[str, Any]:
    data = asdict(incident)
    data["causes"] = sorted(incident.causes)
    data["shown"] = list(incident.shown)
    data["replies"] = list(incident.replies)
    data["orders"] = dict(incident.orders)
    return data


def _decode(data: dict[str, Any]) -> Incident:
    return Incident(
        **{
            **data,
            "causes": frozenset(data.get("causes") or ()),
            "shown": tuple(data.get("shown") or ()),
            "replies": tuple(data.get("replies") or ()),
            "orders": dict(data.get("orders") or {}),
        }
    )
