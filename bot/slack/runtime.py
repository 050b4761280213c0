"""What the Slack listeners call: intents in, message payloads out.

Everything Slack-specific about *what* to say lives here and in blocks.py; *how* it reaches
Slack (ack, respond, chat.update) is app.py's job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import action_service, inspection, services
from bot.adapters import kube
from bot.adapters.action_store import ActionStore
from bot.adapters.kube import KubeClient
from bot.adapters.slack_store import SlackStore
from bot.adapters.watch_cache import WatchCache
from bot.domain import actions, after_action, intents, releases
from bot.domain.actions import ActionRequest
from bot.domain.environments import Config, Environment, closest_names
from bot.domain.snapshot import Snapshot
from bot.errors import ClusterError, DeploybotError, Refused
from bot.knowledge_base import KnowledgeBase
from bot.slack import blocks
from bot.slack.button_values import BadButton, ButtonSigner
from bot.slack.metrics import Metrics

log = logging.getLogger(__name__)
#: (user, user-group ids) -> the ids among them the user belongs to
GroupLookup = Callable[[str, tuple[str, ...]], Awaitable[tuple[str, ...]]]
HELP = (
    "*deploybot* — `/deploybot ask <问题>` (or just the question) · "
    "`/deploybot inspect <env>` (`env`, `诊断`) · "
    "`/deploybot orders <env>` · `/deploybot audit [env]` · `/deploybot help`\n"
    "Mention me in a channel: `@deploybot 看看 shop-prod`, or ask anything; "
    "in a thread about an environment, "
    "`那怎么回滚?` offers the rollback."
)


@dataclass(frozen=True)
class Clicked:
    #: done | read | refused | failed
    kind: str
    text: str
    environment: str | None = None
    plan: actions.Plan | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AfterChange:
    #: the original message, re-inspected
    inspection: dict[str, Any]
    #: "✅ <@U…> scale Deployment/shop-web from 3 to 0 replicas · [Restore]", for the channel
    result: dict[str, Any]
    #: the exact change, when, where the audit is: for the result's thread
    details: dict[str, Any]


@dataclass
class Runtime:
    kb: KnowledgeBase
    config: Config
    action_store: ActionStore
    slack_store: SlackStore
    signer: ButtonSigner
    metrics: Metrics = field(default_factory=Metrics)
    #: how long a re-inspection after a change waits for the cluster to show it
    settle_seconds: float = 10.0
    #: seconds between two on-call looks at each environment with a `channel`
    oncall_interval: float = 15.0
    #: environment -> its list+watch cache (serve starts them): inspections read memory, not the API
    caches: dict[str, WatchCache] = field(default_factory=dict)
    _clients: dict[tuple[str | None, str | None], KubeClient] = field(default_factory=dict)
    #: actions running now: a shutdown waits for them (SIGTERM must not cut a change in half)
    inflight: int = 0

    # -- context ------------------------------------------------------------------------------
    def remember(self, thread_ts: str | None, environment: str) -> None:
        """Which environment a thread is about, for follow-ups; in the shared store, so any
        replica (or the same pod after a restart) answers "那怎么回滚?" in that thread."""
        if thread_ts:
            self.slack_store.remember_thread(thread_ts, environment)

    def client_for(self, env: Environment) -> KubeClient:
        key = (env.kubeconfig, env.context)
        if key not in self._clients:
            self._clients[key] = KubeClient.connect(kubeconfig=env.kubeconfig, context=env.context)
        return self._clients[key]

    def watch(self) -> None:
        """Start a list+watch cache per environment (blocking: one discovery call each)."""
        for env in self.config.environments.values():
            if env.name in self.caches:
                continue
            try:
                self.caches[env.name] = WatchCache(self.client_for(env), env).start()
            except DeploybotError as exc:  # unreachable now: inspections list, as without a cache
                log.warning("no watch cache for %s: %s", env.name, exc)

    async def snapshot(self, env: Environment) -> Snapshot:
        """From the environment's cache once it has synced (0 API calls), else listed now."""
        cache = self.caches.get(env.name)
        if cache is not None and cache.synced:
            return cache.snapshot()
        return await kube.fetch_snapshot(self.client_for(env), env)

    def close(self) -> None:
        for cache in self.caches.values():
            cache.stop(timeout=2.0)
        for client in self._clients.values():
            client.close()
        self.action_store.db.close()

    # -- intents ------------------------------------------------------------------------------
    def intent_of_command(self, text: str) -> intents.Intent:
        return intents.parse_command(text, self.config.names())

    def intent_of_message(self, text: str, *contexts: str | None) -> intents.Intent:
        """`contexts`: where this conversation may have named an environment, nearest first (the
        thread, then a whole DM)."""
        known = next((env for c in contexts if c and (env := self.slack_store.thread_environment(c))), None)
        return intents.route_message(text, self.config.names(), thread_environment=known)

    # -- answers ------------------------------------------------------------------------------
    def answer(self, question: str, user: str) -> dict[str, Any]:
        started = time.monotonic()
        try:
            result = services.ask(self.kb, question)
        except DeploybotError as exc:
            return blocks.text_reply(str(exc))
        self.metrics.inc("deploybot_answers_total", confident=str(result.confident).lower())
        self.metrics.observe("ask", time.monotonic() - started)
        entries = [a.entry for a in result.answers]
        if not result.confident:
            self.slack_store.record_feedback(
                user=user, question=result.query, entry_id="", confident=False, vote="unanswered"
            )
            return blocks.answer(result.query, False, entries)
        ref = self._sign({"kind": "feedback", "question": result.query[:200], "entry": entries[0].id})
        return blocks.answer(
            result.query,
            True,
            entries,
            feedback_ref=ref,
            evidence=result.answers[0].evidence,
            related=result.related,
        )

    def topic(self, entry_id: str) -> dict[str, Any]:
        entry = self.kb.entry(entry_id)
        if entry is None:
            return blocks.text_reply(f"no entry {entry_id!r}")
        return blocks.answer(entry.title, True, [entry])

    def feedback(self, ref: str, user: str, vote: str) -> str:
        payload = self._verify(ref)
        if not payload or payload.get("kind") != "feedback":
            return "this feedback button has expired"
        self.slack_store.record_feedback(
            user=user, question=payload["question"], entry_id=payload["entry"], confident=True, vote=vote
        )
        return "谢谢反馈 / thanks for the feedback"

    def help(self) -> dict[str, Any]:
        return blocks.text_reply(HELP)

    def needs_environment(self, intent: intents.NeedsEnvironment) -> dict[str, Any]:
        names = self.config.names()
        if intent.given:
            close = closest_names(self.config, intent.given.split()[0])
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(names) or 'none'}"
            return blocks.text_reply(f"no such environment: {intent.given.split()[0]!r}; {hint}")
        return blocks.text_reply(f"which environment? known: {', '.join(names) or 'none configured'}")

    # -- inspection ---------------------------------------------------------------------------
    async def inspect(self, name: str, *, done_note: str = "") -> dict[str, Any]:
        env = self.config.environments[name]
        started = time.monotonic()
        try:
            result = inspection.diagnose_snapshot(await self.snapshot(env), env, self.kb)
        except ClusterError as exc:
            self.metrics.inc("deploybot_inspections_total", result="error")
            return blocks.text_reply(f":warning: {env.name}: {exc}")
        self.metrics.inc("deploybot_inspections_total", result="ok" if not result.findings else "findings")
        self.metrics.observe("inspect", time.monotonic() - started)
        return self.render(env, result, done_note=done_note)

    def render(
        self, env: Environment, result: inspection.InspectResult, *, done_note: str = ""
    ) -> dict[str, Any]:
        """An inspection as a Slack message, with a signed button for each action that applies now."""
        titles = {i: e.title for f in result.findings for i in f.kb if (e := self.kb.entry(i))}
        return blocks.inspection(
            environment=env.name,
            summary=result.summary,
            orders=result.orders,
            findings=result.findings,
            buttons=self._buttons(env, result),
            kb_titles=titles,
            unavailable=dict(result.snapshot.unavailable),
            taken_at=result.snapshot.taken_at,
            done_note=done_note,
        )

    def _buttons(self, env: Environment, result: inspection.InspectResult) -> list[blocks.Button]:
        """A button per offered action that can be planned now; its ref remembers what it was planned on."""
        made: list[blocks.Button] = []
        seen: set[tuple[str, str]] = set()
        for finding in result.findings:
            for offer in finding.actions:
                if (offer.action, offer.target) in seen:
                    continue
                seen.add((offer.action, offer.target))
                request = ActionRequest(
                    env.name, offer.action, offer.target, "preview", params=dict(offer.params)
                )
                try:
                    plan = actions.plan(request, env, result.snapshot, now=datetime.now(UTC))
                except actions.ActionRefused:
                    continue
                ref = self._action_value(env, offer.action, offer.target, offer.params, plan)
                made.append(
                    blocks.Button(
                        offer.action, offer.target, ref, plan.description if plan.changing else None
                    )
                )
        return made

    async def orders(self, name: str) -> dict[str, Any]:
        env = self.config.environments[name]
        try:
            snapshot = await kube.fetch_snapshot(self.client_for(env), env)
        except ClusterError as exc:
            return blocks.text_reply(f":warning: {env.name}: {exc}")
        return blocks.orders_list(env.name, releases.release_orders(snapshot))

    def audit(self, name: str | None) -> dict[str, Any]:
        rows = self.action_store.recent(name, 15)
        if not rows:
            return blocks.text_reply("no actions recorded yet")
        lines = [
            f"{datetime.fromtimestamp(r.at, UTC):%m-%d %H:%M} {r.environment} {r.actor}"
            f" {r.action} {r.target} {r.outcome}"
            for r in rows
        ]
        return blocks.text_reply("\n".join(lines), code=True)

    async def propose(self, intent: intents.Propose) -> dict[str, Any]:
        """ "那怎么回滚?" in a thread about shop-prod: plan it now and offer one confirmable button."""
        env = self.config.environments[intent.environment]
        try:
            snapshot = await kube.fetch_snapshot(self.client_for(env), env)
            request = ActionRequest(env.name, intent.action, None, "preview", params=dict(intent.params))
            plan = actions.plan(request, env, snapshot, now=datetime.now(UTC))
        except (actions.ActionRefused, ClusterError) as exc:
            return blocks.text_reply(f"{intent.action} on {env.name}: {exc}")
        ref = self._action_value(env, intent.action, plan.target, dict(intent.params), plan)
        return blocks.proposal(
            plan.description, blocks.Button(intent.action, plan.target, ref, plan.description)
        )

    # -- clicks -------------------------------------------------------------------------------
    async def click(self, ref: str, user: str, groups_of: GroupLookup | None = None) -> Clicked:
        """Run the action behind a button: done | read | refused | failed, and what to say.

        `groups_of(group_ids)` says which of the environment's operator user-groups the clicker
        is in (usergroups.users.list); only asked when an environment lists groups.
        """
        try:
            payload = self.signer.verify(ref, now=time.time())
        except BadButton as exc:
            self.metrics.inc("deploybot_actions_total", action="unknown", result="bad_button")
            return Clicked("refused", str(exc))
        if payload.get("kind") != "action":
            return Clicked("refused", "this is not an action button; inspect again")
        env = self.config.environments.get(payload["environment"])
        if env is None:
            return Clicked("refused", f"environment {payload['environment']!r} is no longer configured")
        group_ids = tuple(o for o in env.operators if o.startswith("S"))
        groups = await groups_of(user, group_ids) if groups_of and group_ids else ()
        request = ActionRequest(
            environment=env.name,
            action=payload["action"],
            target=payload["target"],
            actor=user,
            params=payload.get("params") or {},
            expected=payload.get("expected"),
            key=str(payload["n"]),
            actor_groups=tuple(groups),
        )
        started = time.monotonic()
        self.inflight += 1
        try:
            outcome = await action_service.act_async(self.client_for(env), env, request, self.action_store)
        except Refused as exc:
            self.metrics.inc("deploybot_actions_total", action=request.action, result="refused")
            return Clicked("refused", str(exc), env.name)
        except DeploybotError as exc:
            self.metrics.inc("deploybot_actions_total", action=request.action, result="failed")
            return Clicked("failed", str(exc), env.name)
        finally:
            self.inflight -= 1
        self.metrics.inc("deploybot_actions_total", action=request.action, result=outcome.outcome)
        self.metrics.observe("action", time.monotonic() - started)
        if outcome.outcome == "read":
            return Clicked("read", outcome.output, env.name)
        done = f":white_check_mark: <@{user}> {outcome.plan.description} ({datetime.now(UTC):%H:%M UTC})"
        return Clicked("done", done, env.name, outcome.plan, dict(request.params))

    async def after_change(self, clicked: Clicked, user: str) -> AfterChange:
        """Once the cluster shows the change (or `settle_seconds` passed): the fresh inspection for
        the message in place, a one-line result for the channel with an undo button where one
        applies, and the details for its thread."""
        assert clicked.plan is not None and clicked.environment is not None
        plan, env = clicked.plan, self.config.environments[clicked.environment]
        deadline = time.monotonic() + self.settle_seconds
        snapshot = None
        while True:
            try:
                snapshot = await kube.fetch_snapshot(self.client_for(env), env)
            except ClusterError:
                snapshot = None
            if snapshot is None or after_action.settled(snapshot, plan.target) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        applying = snapshot is not None and not after_action.settled(snapshot, plan.target)
        note = clicked.text + (" — the cluster is still applying it" if applying else "")
        fresh = await self.inspect(env.name, done_note=note)
        line = f":white_check_mark: <@{user}> {after_action.headline(plan)}"
        undo_button = self._undo_button(env, clicked, snapshot) if snapshot is not None else None
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S UTC}"
        details = f"{plan.description}\n{when} · audit: `deploybot audit {env.name}`"
        return AfterChange(fresh, blocks.result_line(line, undo_button), blocks.text_reply(details))

    def _undo_button(self, env: Environment, clicked: Clicked, snapshot: Snapshot) -> blocks.Button | None:
        assert clicked.plan is not None
        back = after_action.undo(clicked.plan.action, clicked.params)
        if back is None:
            return None
        action, params = back
        request = ActionRequest(env.name, action, clicked.plan.target, "preview", params=params)
        try:
            plan = actions.plan(request, env, snapshot, now=datetime.now(UTC))
        except actions.ActionRefused:
            return None  # it does not apply to the state after the change: offer nothing
        value = self._action_value(env, action, plan.target, params, plan)
        return blocks.Button(action, plan.target, value, plan.description)

    def environment_of(self, ref: str) -> str | None:
        payload = self._verify(ref)
        return str(payload["environment"]) if payload and "environment" in payload else None

    # -- incidents ----------------------------------------------------------------------------
    def order_buttons(self, env: Environment, snapshot: Snapshot, target: str) -> list[blocks.Button]:
        """Resume / close / roll back for a release order, each only if it plans on this snapshot."""
        made = []
        for action in ("resume_order", "close_order", "rollback_order"):
            request = ActionRequest(env.name, action, target, "preview")
            try:
                plan = actions.plan(request, env, snapshot, now=datetime.now(UTC))
            except actions.ActionRefused:
                continue
            made.append(
                blocks.Button(
                    action, plan.target, self._action_value(env, action, target, {}, plan), plan.description
                )
            )
        return made

    def incident_ts(self, environment: str | None) -> str | None:
        """The root message of the environment's open incident, if any."""
        from bot.adapters.incident_store import IncidentStore

        incident = IncidentStore(self.action_store.db).load(environment) if environment else None
        return incident.message_ts if incident is not None and incident.status == "open" else None

    def incident_value(self, env: Environment) -> str:
        return self._sign({"kind": "incident", "environment": env.name})

    async def incident_click(
        self, value: str, user: str, what: str, groups_of: GroupLookup | None = None
    ) -> tuple[bool, str]:
        """ "I'm on it" (anyone) or "Mute" (operators of a protected environment): (done, what to say)."""
        from bot.adapters.incident_store import IncidentStore
        from bot.domain import incidents

        payload = self._verify(value)
        env = self.config.environments.get(str((payload or {}).get("environment")))
        if not payload or payload.get("kind") != "incident" or env is None:
            return False, "this incident button has expired or is unknown"
        store = IncidentStore(self.action_store.db)
        incident = store.load(env.name)
        now = time.time()
        if what == "mute":
            group_ids = tuple(o for o in env.operators if o.startswith("S"))
            groups = await groups_of(user, group_ids) if groups_of and group_ids else ()
            request = ActionRequest(env.name, "mute", None, user, actor_groups=tuple(groups))
            if env.protected and not actions.is_allowed(env, request):
                operators = ", ".join(env.operators) or "nobody"
                message = f"{user} may not mute protected environment {env.name}: operators are {operators}"
                self._audit_incident(env, user, "mute", "refused", message)
                return False, message
            until = now + blocks.MUTE_HOURS * 3600
            store.save(incidents.mute(incident, env.name, until=until, now=now))
            ends = f"{datetime.fromtimestamp(until, UTC):%H:%M UTC}"
            text = f":no_bell: <@{user}> muted {env.name} for {blocks.MUTE_HOURS}h (until {ends})"
            self._audit_incident(env, user, "mute", "done", text)
            return True, text
        if incident is None or incident.status != "open":
            return False, f"no open incident on {env.name} now"
        acknowledged, post = incidents.acknowledge(incident, user)
        store.save(acknowledged)
        self._audit_incident(env, user, "acknowledge", "done", post.text)
        return True, post.text

    def _audit_incident(self, env: Environment, user: str, action: str, outcome: str, message: str) -> None:
        self.action_store.audit(
            actor=user, environment=env.name, action=action, target=f"incident/{env.name}", params={},
            outcome=outcome, message=message, key=None,
        )  # fmt: skip

    # -- button values ------------------------------------------------------------------------
    def _action_value(
        self, env: Environment, action: str, target: str, params: Mapping[str, str], plan: actions.Plan
    ) -> str:
        """What a click needs, and the state it was planned on (pods have no revision to go stale)."""
        expected = None if plan.target.startswith("Pod/") else plan.fingerprint
        return self._sign(
            {
                "kind": "action",
                "environment": env.name,
                "action": action,
                "target": target,
                "params": dict(params),
                "expected": expected,
            }
        )

    def _sign(self, payload: Mapping[str, Any]) -> str:
        return self.signer.sign(payload, now=time.time())

    def _verify(self, value: str) -> dict[str, Any] | None:
        try:
            return self.signer.verify(value, now=time.time())
        except BadButton:
            return None
