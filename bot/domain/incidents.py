"""Incidents in an on-call channel, as a pure state machine: one step per look at an environment.

Given what was known (an `Incident`, or None), the findings and release orders seen now, and the
time, `step` says what to post: open ONE root message when a problem has lasted past the
debounce, edit that message in place when what is wrong changes, reply in its thread only for
meaningful changes (a new cause, a release order paused/failed/resumed/completed), and mark it
resolved once the environment has stayed healthy long enough. Replies are rate limited, so a
flapping or storming environment never floods the channel. The adapter that posts (Slack) and
the store that keeps the incident (the shared state database) are elsewhere; this decides.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.domain.diagnosis_types import Finding, severity_rank
from bot.domain.releases import ReleaseOrder

#: release-order states worth a line in the channel when an order enters them
ORDER_NEWS = {"paused": "paused", "failed": "failed", "completed": "completed"}


@dataclass(frozen=True)
class Policy:
    #: a problem must last this long before it opens an incident (no alert for a blip)
    debounce_seconds: float = 60.0
    #: healthy this long and the incident is resolved
    resolve_after_seconds: float = 300.0
    #: at most this many thread replies in any rolling minute
    replies_per_minute: int = 3
    #: the least severe finding that counts
    min_severity: str = "warning"
    #: finding codes that count (empty: all)
    codes: frozenset[str] = frozenset()
    #: release-order transitions are posted
    release_orders: bool = True
    #: the root message is edited at most this often while only counts move (a new cause: at once)
    update_interval_seconds: float = 30.0

    def counts(self, finding: Finding) -> bool:
        if self.codes and finding.code not in self.codes:
            return False
        return severity_rank(finding.severity) <= severity_rank(self.min_severity)


@dataclass(frozen=True)
class Incident:
    environment: str
    #: idle (nothing wrong; release orders tracked) | pending (seen, debouncing) | open (root
    #: message posted) | resolved
    status: str
    first_seen: float
    opened_at: float | None = None
    #: the root message's ts, once posted (the adapter fills it in)
    message_ts: str | None = None
    #: finding codes the thread has been told about
    causes: frozenset[str] = frozenset()
    #: titles shown in the root message now (an edit is due when they change)
    shown: tuple[str, ...] = ()
    healthy_since: float | None = None
    #: when the root message was last edited
    updated_at: float | None = None
    replies: tuple[float, ...] = ()
    acknowledged_by: str | None = None
    muted_until: float | None = None
    #: release-order target -> state last seen
    orders: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Post:
    #: open (a new root message) | update (edit the root in place) | reply (in its thread) |
    #: resolve (edit the root as resolved, and say so in the thread) | notice (a channel line
    #: about a release order when no incident is open)
    kind: str
    text: str
    findings: tuple[Finding, ...] = ()
    #: a notice about a release order: its target, so the channel line can carry its buttons
    target: str | None = None


def step(
    incident: Incident | None,
    environment: str,
    findings: Sequence[Finding],
    orders: Sequence[ReleaseOrder],
    now: float,
    policy: Policy = Policy(),
) -> tuple[Incident | None, list[Post]]:
    relevant = tuple(f for f in findings if policy.counts(f))
    order_news = _order_news(incident.orders if incident else {}, orders) if policy.release_orders else []
    seen_orders = {o.target: o.state for o in orders if o.current}
    if incident is None or incident.status in ("idle", "resolved"):
        if not relevant:
            notices = [] if _muted_or_none(incident, now) else _notices(order_news)
            muted_until = incident.muted_until if incident else None
            idle = Incident(environment, "idle", now, orders=seen_orders, muted_until=muted_until)
            return idle, notices
        pending = Incident(
            environment,
            "pending",
            now,
            orders=seen_orders,
            muted_until=incident.muted_until if incident else None,
        )
        return _maybe_open(pending, relevant, order_news, now, policy)
    incident = replace(incident, orders=seen_orders)
    if incident.status == "pending":
        if not relevant:  # a blip: gone before the debounce, nobody is told
            idle = Incident(environment, "idle", now, orders=seen_orders, muted_until=incident.muted_until)
            return idle, [] if _muted(incident, now) else _notices(order_news)
        return _maybe_open(incident, relevant, order_news, now, policy)
    return _while_open(incident, relevant, order_news, now, policy)


def _maybe_open(
    incident: Incident,
    relevant: tuple[Finding, ...],
    order_news: list[tuple[str, str]],
    now: float,
    policy: Policy,
) -> tuple[Incident, list[Post]]:
    if now - incident.first_seen < policy.debounce_seconds or _muted(incident, now):
        return incident, [] if _muted(incident, now) else _notices(order_news)
    opened = replace(
        incident,
        status="open",
        opened_at=now,
        updated_at=now,
        causes=frozenset(f.code for f in relevant),
        shown=_titles(relevant),
        healthy_since=None,
    )
    posts = [Post("open", summary(incident.environment, relevant), relevant)]
    opened, replies = _replies(opened, [f"release order {line}" for line, _ in order_news], now, policy)
    return opened, posts + replies


def _while_open(
    incident: Incident,
    relevant: tuple[Finding, ...],
    order_news: list[tuple[str, str]],
    now: float,
    policy: Policy,
) -> tuple[Incident | None, list[Post]]:
    lines = [f"release order {line}" for line, _ in order_news]
    if not relevant:
        healthy_since = incident.healthy_since or now
        if now - healthy_since >= policy.resolve_after_seconds:
            lasted = duration(healthy_since - (incident.opened_at or incident.first_seen))
            resolved = replace(incident, status="resolved", healthy_since=healthy_since, shown=())
            text = f":white_check_mark: {incident.environment} resolved: healthy again after {lasted}"
            return resolved, [Post("resolve", text), *(Post("reply", line) for line in lines)]
        posts = []
        if incident.shown:  # the root says it is recovering; no reply: healthy may not last
            posts.append(Post("update", f"{incident.environment}: recovering, no finding now", ()))
        incident = replace(incident, healthy_since=healthy_since, shown=(), updated_at=now)
        incident, replies = _replies(incident, lines, now, policy)
        return incident, posts + replies
    posts = []
    titles = _titles(relevant)
    new = [f for f in relevant if f.code not in incident.causes]
    due = incident.updated_at is None or now - incident.updated_at >= policy.update_interval_seconds
    if titles != incident.shown and (new or due):  # a new cause at once; anything else per interval
        posts.append(Post("update", summary(incident.environment, relevant), relevant))
        incident = replace(incident, updated_at=now)
    elif titles != incident.shown:
        titles = incident.shown  # counts moved; the edit waits for the interval
    lines = [f"new: [{f.code}] {f.title}" for f in new] + lines
    incident = replace(
        incident, shown=titles, healthy_since=None, causes=incident.causes | {f.code for f in relevant}
    )
    incident, replies = _replies(incident, lines, now, policy)
    return incident, posts + replies


def _replies(
    incident: Incident, lines: Sequence[str], now: float, policy: Policy
) -> tuple[Incident, list[Post]]:
    """Thread replies within the rate limit; what does not fit is folded into one line, or, once
    even that would exceed it, dropped (the root message, edited in place, still shows the state)."""
    recent = tuple(t for t in incident.replies if now - t < 60.0)
    room = max(0, policy.replies_per_minute - len(recent))
    if not lines or room == 0 or _muted(incident, now):
        return replace(incident, replies=recent), []
    if len(lines) > room:
        lines = [*lines[: room - 1], f"{len(lines) - room + 1} more changes: " + "; ".join(lines[room - 1 :])]
    posts = [Post("reply", line) for line in lines]
    return replace(incident, replies=recent + (now,) * len(posts)), posts


def due_at(incident: Incident | None, policy: Policy, now: float) -> float | None:
    """When time alone (no change in the cluster) next moves this incident: the debounce ends, a
    mute ends, health has lasted long enough to resolve. The watcher looks then, not an interval
    later; None when only a change can move it (what is already past was handled by the last look)."""
    if incident is None:
        return None
    due: list[float] = []
    if incident.status == "pending":
        due.append(incident.first_seen + policy.debounce_seconds)
    if incident.status == "open" and incident.healthy_since is not None:
        due.append(incident.healthy_since + policy.resolve_after_seconds)
    if incident.muted_until is not None and incident.status in ("pending", "open"):
        due.append(incident.muted_until)
    return min((when for when in due if when > now), default=None)


def acknowledge(incident: Incident, user: str) -> tuple[Incident, Post]:
    """ "<@U…> is on it": said once in the thread; the root shows who has it."""
    return replace(incident, acknowledged_by=user), Post("reply", f"<@{user}> is on it")


def mute(incident: Incident | None, environment: str, until: float, now: float) -> Incident:
    """No new root messages nor replies until `until` (edits in place still happen)."""
    base = incident or Incident(environment, "idle", now)
    return replace(base, muted_until=until)


def summary(environment: str, findings: Sequence[Finding]) -> str:
    worst = min((severity_rank(f.severity) for f in findings), default=0)
    mark = ":rotating_light:" if worst == 0 else ":warning:"
    head = f"{mark} {environment}: {len(findings)} finding{'s' if len(findings) != 1 else ''}"
    return "\n".join([head, *(f"• [{f.code}] {f.title}" for f in findings[:5])])


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)}s"
    if minutes < 120:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _titles(findings: Sequence[Finding]) -> tuple[str, ...]:
    return tuple(sorted(f"{f.code}:{f.title}" for f in findings))


def _muted_or_none(incident: Incident | None, now: float) -> bool:
    return incident is not None and _muted(incident, now)


def _muted(incident: Incident, now: float) -> bool:
    return incident.muted_until is not None and now < incident.muted_until


def _notices(order_news: Sequence[tuple[str, str]]) -> list[Post]:
    return [Post("notice", line, target=target) for line, target in order_news]


def _order_news(before: Mapping[str, str], orders: Collection[ReleaseOrder]) -> list[tuple[str, str]]:
    """Transitions worth a line: into paused, failed or completed, and out of paused (resumed)."""
    news = []
    for order in orders:
        if not order.current:
            continue
        old = before.get(order.target)
        if old is None or old == order.state:
            continue
        batch = f"batch {order.batch}/{order.batches}"
        if order.state in ORDER_NEWS:
            news.append((f"{order.target} {ORDER_NEWS[order.state]} at {batch}", order.target))
        elif old == "paused":
            news.append((f"{order.target} resumed ({order.state}, {batch})", order.target))
    return news
