"""The on-call use case: look at every environment that has a `channel`, decide with the incident
state machine (bot/domain/incidents.py) what the channel should see, have it posted, and keep
the incident in the shared store so a restart continues the same thread.

How a message reaches Slack is the `Poster`'s job (bot/slack/oncall_poster.py); where a snapshot
comes from is `snapshot_of`'s (a fresh list today; the watch cache next).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from bot import inspection
from bot.adapters.incident_store import IncidentStore
from bot.domain import incidents
from bot.domain.environments import Config, Environment
from bot.domain.incidents import Incident, Post
from bot.domain.snapshot import Snapshot
from bot.errors import DeploybotError
from bot.inspection import InspectResult
from bot.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)


class Poster(Protocol):
    async def open(self, env: Environment, result: InspectResult, post: Post) -> str | None:
        """Post the root message; its ts, or None when Slack refused it."""

    async def update(self, env: Environment, ts: str, result: InspectResult, post: Post) -> None: ...

    async def reply(self, env: Environment, ts: str, text: str) -> None: ...

    async def notice(self, env: Environment, result: InspectResult, post: Post) -> None: ...


@dataclass
class OnCall:
    config: Config
    kb: KnowledgeBase
    store: IncidentStore
    poster: Poster
    snapshot_of: Callable[[Environment], Awaitable[Snapshot]]
    clock: Callable[[], float] = time.time
    #: seconds between two looks at each environment
    interval: float = 15.0
    #: environment -> consecutive failures to look (logged once, not every interval)
    failures: dict[str, int] = field(default_factory=dict)
    #: with several replicas: True while this one holds the on-call Lease (only the leader posts)
    leader: Callable[[], bool] | None = None

    def watched(self) -> list[Environment]:
        return [env for env in self.config.environments.values() if env.channel]

    async def check(self, env: Environment) -> list[Post]:
        """One look: what was posted (for logs and tests)."""
        try:
            snapshot = await self.snapshot_of(env)
        except DeploybotError as exc:
            self.failures[env.name] = self.failures.get(env.name, 0) + 1
            if self.failures[env.name] == 1:
                log.warning("on-call: cannot look at %s: %s", env.name, exc)
            return []
        self.failures.pop(env.name, None)
        result = inspection.diagnose_snapshot(snapshot, env, self.kb)
        before = self.store.load(env.name)
        after, posts = incidents.step(
            before, env.name, result.findings, result.orders, self.clock(), env.notify
        )
        if after is not None:
            after = await self._deliver(env, result, after, posts)
            self.store.save(after)
        return posts

    async def _deliver(
        self, env: Environment, result: InspectResult, incident: Incident, posts: list[Post]
    ) -> Incident:
        for post in posts:
            if post.kind == "open":
                ts = await self.poster.open(env, result, post)
                if ts is None:  # refused or unreachable: try again at the next look, from pending
                    return replace(incident, status="pending", message_ts=None)
                incident = replace(incident, message_ts=ts)
            elif post.kind == "notice":
                await self.poster.notice(env, result, post)
            elif incident.message_ts is None:
                continue
            elif post.kind in ("update", "resolve"):
                await self.poster.update(env, incident.message_ts, result, post)
                if post.kind == "resolve":
                    await self.poster.reply(env, incident.message_ts, post.text)
            else:
                await self.poster.reply(env, incident.message_ts, post.text)
        return incident

    async def run(self, stop: asyncio.Event) -> None:
        """Every `interval`, each watched environment in turn, until `stop` is set."""
        while not stop.is_set():
            leading = self.leader is None or await asyncio.to_thread(self.leader)
            for env in self.watched() if leading else ():
                try:
                    await self.check(env)
                except Exception:  # one environment's bug must not stop the others being watched
                    log.exception("on-call: checking %s failed", env.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
