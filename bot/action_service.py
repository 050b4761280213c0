"""Use case: run one action with every check, the same for a terminal and a Slack button.

authorize -> fresh snapshot -> plan (stale? refused?) -> confirm -> claim the idempotency key
-> apply (re-plan once on a 409) -> audit row + Kubernetes Event on the target.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.adapters import kube
from bot.adapters.action_store import ActionStore, Claim
from bot.adapters.kube import KubeClient
from bot.domain import actions
from bot.domain.actions import ActionRequest, Plan
from bot.domain.environments import Environment
from bot.errors import ActionFailed, AlreadyDone, ClusterConflict, ClusterError, NotAllowed, Refused, Stale

log = logging.getLogger(__name__)
MAX_LOG_CHARS = 20_000


@dataclass(frozen=True)
class ActResult:
    plan: Plan
    #: done | dry-run | cancelled | read
    outcome: str
    message: str
    #: what a read-only action returns: log text or event lines
    output: str = ""


def act(
    client: KubeClient, env: Environment, request: ActionRequest, store: ActionStore, **options: object
) -> ActResult:
    return asyncio.run(act_async(client, env, request, store, **options))  # type: ignore[arg-type]


async def act_async(
    client: KubeClient,
    env: Environment,
    request: ActionRequest,
    store: ActionStore,
    *,
    dry_run: bool = False,
    confirm: Callable[[Plan], bool] | None = None,
) -> ActResult:
    """Every refusal is audited too (who tried what, and why not): the trail shows attempts."""
    target = request.target or ""
    try:
        if not actions.is_allowed(env, request):
            who = ", ".join(env.operators) if env.operators else "nobody (no operators configured)"
            where = f"protected environment {env.name}"
            raise NotAllowed(f"{request.actor} may not {request.action} on {where}: operators are {who}")
        if request.key and (earlier := store.holder(request.key)):
            raise _already(earlier, request.action)
        try:
            plan = await _plan(client, env, request)
        except Stale:
            # a twin click that won meanwhile is why it looks stale: say who did it instead
            if request.key and (earlier := store.holder(request.key)):
                raise _already(earlier, request.action) from None
            raise
        target = plan.target
        if dry_run:
            return ActResult(plan, "dry-run", f"would {plan.description}")
        if not plan.changing:
            output = await asyncio.to_thread(_read, client, plan)
            return ActResult(plan, "read", plan.description, output)
        if confirm is not None and not confirm(plan):
            return ActResult(plan, "cancelled", f"did not {plan.description}")
        key = request.key or uuid.uuid4().hex
        claim = store.claim(
            key, environment=env.name, action=request.action, target=plan.target, actor=request.actor
        )
        if not claim.won:
            raise _already(claim, plan.description)
    except Refused as exc:
        _audit(store, request, target, "refused", str(exc))
        raise
    try:
        plan = await _apply(client, env, request, plan)
    except (ClusterError, actions.ActionRefused) as exc:
        store.finish(key, state="failed", message=str(exc))
        refused = isinstance(exc, actions.ActionRefused)
        _audit(store, request, plan.target, "refused" if refused else "failed", str(exc), key)
        if isinstance(exc, actions.StaleAction):
            raise Stale(str(exc)) from None
        if refused:
            raise Refused(str(exc)) from None
        raise ActionFailed(f"could not {plan.description}: {exc}") from None
    done = f"{request.actor} did: {plan.description}"
    store.finish(key, state="done", message=done)
    _audit(store, request, plan.target, "done", done, key)
    await asyncio.to_thread(_record_event, client, plan, request.actor)
    return ActResult(plan, "done", done)


def _already(claim: Claim, what: str) -> AlreadyDone:
    when = datetime.fromtimestamp(claim.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    verb = "already done" if claim.state == "done" else "already in progress"
    return AlreadyDone(f"{verb} by {claim.actor} at {when}: {claim.message or what}")


async def _plan(client: KubeClient, env: Environment, request: ActionRequest) -> Plan:
    snapshot = await kube.fetch_snapshot(client, env)
    try:
        return actions.plan(request, env, snapshot, now=datetime.now(UTC))
    except actions.StaleAction as exc:
        raise Stale(str(exc)) from None
    except actions.ActionRefused as exc:
        raise Refused(str(exc)) from None


async def _apply(client: KubeClient, env: Environment, request: ActionRequest, plan: Plan) -> Plan:
    """Apply; on a 409 (someone else wrote first) plan again against the new state, once."""
    try:
        await asyncio.to_thread(_write, client, plan)
        return plan
    except ClusterConflict:
        snapshot = await kube.fetch_snapshot(client, env)
        again = actions.plan(
            replace(request, expected=plan.fingerprint), env, snapshot, now=datetime.now(UTC)
        )
        await asyncio.to_thread(_write, client, again)
        return again


def _write(client: KubeClient, plan: Plan) -> None:
    for op in plan.operations:
        client.request(
            op.method, op.path, query=op.query, body=op.body, content_type=op.content_type, what=op.what
        )


def _read(client: KubeClient, plan: Plan) -> str:
    if not plan.operations:
        return "\n".join(plan.lines)
    op = plan.operations[0]
    text = client.request_text(op.method, op.path, query=op.query, what=op.what)
    if len(text) > MAX_LOG_CHARS:
        text = f"… (first {len(text) - MAX_LOG_CHARS} characters cut)\n" + text[-MAX_LOG_CHARS:]
    return text or "(no log lines)"


def _record_event(client: KubeClient, plan: Plan, actor: str) -> None:
    """The cluster itself shows who changed what: a Normal event on the target."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    involved = {k: v for k, v in plan.involved.items() if v}
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{involved.get('name', 'deploybot')}.deploybot-",
            "namespace": plan.namespace,
        },
        "involvedObject": involved,
        "reason": "Deploybot" + "".join(part.title() for part in plan.action.split("_")),
        "message": f"{actor}: {plan.description}"[:1000],
        "type": "Normal",
        "source": {"component": "deploybot"},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        client.request(
            "POST",
            f"/api/v1/namespaces/{plan.namespace}/events",
            body=body,
            what=f"create events in namespace {plan.namespace}",
        )
    except ClusterError as exc:  # the change is made; the missing Event is worth a warning, not a failure
        log.warning("action done but its audit Event was not recorded: %s", exc)


def _audit(
    store: ActionStore,
    request: ActionRequest,
    target: str,
    outcome: str,
    message: str,
    key: str | None = None,
) -> None:
    store.audit(
        actor=request.actor,
        environment=request.environment,
        action=request.action,
        target=target,
        params=request.params,
        outcome=outcome,
        message=message,
        key=key or request.key,
    )
