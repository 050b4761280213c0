"""The on-call use case: look at every environment that has a `channel`, decide with the incident
state machine (bot/domain/incidents.py) what the channel should see, have it posted, and keep
the incident in the shared store so a restart continues the same thread.

How a message reaches Slack is the `Poster`'s job (bot/slack/oncall_poster.py); where a snapshot
comes from is `snapshot_of`'s (the watch cache in `serve`); `changed` is how the cache says
"look now" between two rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

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


def worth_a_look(kind: str, obj: Mapping[str, Any]) -> bool:
    """A watched change that may move an incident: anything but a Normal event (Pulled,
    Scheduled, Started… arrive by the hundred in a healthy busy namespace)."""
    return not (kind == "events" and obj.get("type") == "Normal")


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
    #: after a watch reports a change, wait this long so a burst of changes is one look
    settle: float = 1.0
    #: environments a watch has reported a change in since their last look
    _changed: set[str] = field(default_factory=set)
    #: environment -> when time alone next moves its incident (debounce over, resolve due)
    _due: dict[str, float] = field(default_factory=dict)
    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

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
        due = incidents.due_at(after, env.notify, self.clock())
        if due is None:
            self._due.pop(env.name, None)
        else:
            self._due[env.name] = due
        return posts

    def changed(self, environment: str) -> None:
        """A watch saw a change in this environment: look soon, not at the next interval. Safe to
        call from a watch thread; before `run` has started it does nothing (the first look is
        of everything anyway)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._mark_changed, environment)

    def _mark_changed(self, environment: str) -> None:
        self._changed.add(environment)
        if self._wake is not None:
            self._wake.set()

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
        """Every `interval` each watched environment in turn; in between, an environment a watch
        reported a change in (after `settle`) and one whose incident falls due (debounce over,
        resolve due). Until `stop` is set."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        next_round = 0.0
        while not stop.is_set():
            now = self.clock()
            everything = now >= next_round
            if everything:
                next_round = now + self.interval
            due = {name for name, when in self._due.items() if when <= now}
            names = None if everything else self._changed | due
            self._changed.clear()
            leading = self.leader is None or await asyncio.to_thread(self.leader)
            for env in self.watched() if leading else ():
                if names is not None and env.name not in names:
                    continue
                try:
                    await self.check(env)
                except Exception:  # one environment's bug must not stop the others being watched
                    log.exception("on-call: checking %s failed", env.name)
            if not leading:
                self._due.clear()
            await self._sleep(stop, min([next_round, *self._due.values()]) - self.clock())

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        """Until `seconds` pass, `stop` is set, or a change is reported (then `settle` more)."""
        assert self._wake is not None
        self._wake.clear()
        if self._changed:
            self._wake.set()
        stopped = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {stopped, woken}, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED
            )
            if woken.done() and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=min(self.settle, max(0.0, seconds)))
        finally:
            for waiter in (stopped, woken):
                waiter.cancel()
            await asyncio.gather(stopped, woken, return_exceptions=True)
