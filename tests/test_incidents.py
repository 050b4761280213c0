"""The incident state machine: one root message per incident, quiet threads, no flapping spam."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.diagnosis_types import Finding
from bot.domain.incidents import Incident, Policy, Post, acknowledge, due_at, mute, step
from tests.test_diagnosis import order

ENV = "shop-prod"
CRASH = Finding("CrashLoop", "critical", "100 pods: CrashLoopBackOff in container web", "…", (), ("Pod/a",))
PULL = Finding("ImagePullFailed", "critical", "3 pods: ImagePullBackOff on shop:v2", "…", (), ("Pod/b",))
DEFAULT = Policy()
INFO = Finding("ReleasePaused", "info", "Release order paused at batch 1/3", "…", (), ())


def run(
    timeline: list[tuple[float, list[Finding]]], incident: Incident | None = None, policy: Policy = DEFAULT
) -> tuple[Incident | None, list[tuple[float, Post]]]:
    posted: list[tuple[float, Post]] = []
    for now, findings in timeline:
        incident, posts = step(incident, ENV, findings, [], now, policy)
        posted += [(now, p) for p in posts]
    return incident, posted


def kinds(posted: list[tuple[float, Post]]) -> list[str]:
    return [p.kind for _, p in posted]


def test_a_blip_shorter_than_the_debounce_tells_nobody() -> None:
    incident, posted = run([(0, [CRASH]), (30, [CRASH]), (45, [])])
    assert posted == [] and incident is not None and incident.status == "idle"


def test_a_problem_that_lasts_opens_one_root_message() -> None:
    incident, posted = run([(0, [CRASH]), (30, [CRASH]), (60, [CRASH]), (90, [CRASH])])
    assert kinds(posted) == ["open"]
    assert posted[0][0] == 60 and "CrashLoopBackOff" in posted[0][1].text
    assert incident is not None and incident.status == "open"


def test_info_findings_do_not_page() -> None:
    _, posted = run([(t, [INFO]) for t in range(0, 600, 30)])
    assert posted == []


def test_a_storm_is_one_root_message_and_a_bounded_thread() -> None:
    """A crash storm re-diagnosed every 5 s for 10 minutes, its titles changing as counts move."""
    timeline = []
    for i, t in enumerate(range(0, 600, 5)):
        crash = replace(CRASH, title=f"{50 + i % 50} pods: CrashLoopBackOff in container web")
        timeline.append((float(t), [crash, PULL] if i % 7 == 0 else [crash]))
    _, posted = run(timeline)
    assert kinds(posted).count("open") == 1
    replies = [t for t, p in posted if p.kind == "reply"]
    assert len(replies) <= 1  # the image-pull cause is new once; flapping back is not news
    for start in range(0, 600, 60):  # never more than the limit in any minute
        assert sum(start <= t < start + 60 for t in replies) <= Policy().replies_per_minute
    edits = [t for t, p in posted if p.kind == "update"]
    assert len(edits) <= 600 / DEFAULT.update_interval_seconds + 2  # counts moving: an edit per interval


def test_a_new_cause_is_a_thread_reply_and_an_edit() -> None:
    _, posted = run([(0, [CRASH]), (60, [CRASH]), (90, [CRASH, PULL])])
    assert kinds(posted) == ["open", "update", "reply"]
    assert posted[2][1].text.startswith("new: [ImagePullFailed]")


def test_healthy_long_enough_resolves_with_its_duration() -> None:
    timeline = [(0.0, [CRASH]), (60.0, [CRASH]), (120.0, []), (300.0, []), (420.0, [])]
    incident, posted = run(timeline)
    assert kinds(posted) == ["open", "update", "resolve"]
    assert "resolved" in posted[-1][1].text and "1m" in posted[-1][1].text
    assert incident is not None and incident.status == "resolved"


def test_a_relapse_before_resolving_continues_the_same_incident() -> None:
    timeline = [(0.0, [CRASH]), (60.0, [CRASH]), (120.0, []), (200.0, [CRASH]), (600.0, [CRASH])]
    incident, posted = run(timeline)
    assert kinds(posted).count("open") == 1 and "resolve" not in kinds(posted)
    assert incident is not None and incident.status == "open"


def test_after_resolving_a_new_problem_is_a_new_incident() -> None:
    timeline = [(0.0, [CRASH]), (60.0, [CRASH]), (70.0, []), (400.0, []), (500.0, [PULL]), (560.0, [PULL])]
    _, posted = run(timeline)
    assert kinds(posted) == ["open", "update", "resolve", "open"]


def test_many_changes_at_once_fit_the_rate_limit() -> None:
    many = [Finding(f"Code{i}", "warning", f"thing {i}", "…", (), ()) for i in range(10)]
    policy = Policy(replies_per_minute=3)
    _, posted = run([(0.0, [CRASH]), (60.0, [CRASH]), (61.0, [CRASH, *many])], policy=policy)
    replies = [p for _, p in posted if p.kind == "reply"]
    assert len(replies) == 3 and replies[-1].text.startswith("8 more changes:")


def test_release_order_transitions_are_news() -> None:
    incident, posts = step(None, ENV, [], [order("progressing")], 0.0)
    assert posts == []  # the first look is the baseline
    incident, posts = step(incident, ENV, [], [order("paused")], 10.0)
    assert [p.kind for p in posts] == ["notice"] and "paused at batch 1/3" in posts[0].text
    incident, posts = step(incident, ENV, [], [order("progressing")], 20.0)
    assert "resumed" in posts[0].text
    incident, posts = step(incident, ENV, [], [order("failed")], 30.0)
    assert "failed" in posts[0].text
    quiet = Policy(release_orders=False)
    _, posts = step(incident, ENV, [], [order("completed")], 40.0, quiet)
    assert posts == []


def test_release_order_news_goes_to_the_open_incidents_thread() -> None:
    incident, _ = step(None, ENV, [CRASH], [order("progressing")], 0.0)
    incident, posts = step(incident, ENV, [CRASH], [order("progressing")], 60.0)
    incident, posts = step(incident, ENV, [CRASH], [order("paused")], 70.0)
    assert [p.kind for p in posts] == ["reply"] and posts[0].text.startswith("release order ")


def test_muted_environments_open_nothing_until_the_mute_ends() -> None:
    muted = mute(None, ENV, until=300.0, now=0.0)
    incident, posted = run([(0.0, [CRASH]), (60.0, [CRASH]), (200.0, [CRASH])], incident=muted)
    assert posted == []
    incident, posts = step(incident, ENV, [CRASH], [], 301.0)
    assert [p.kind for p in posts] == ["open"]


def test_acknowledging_says_who_is_on_it() -> None:
    incident, _ = run([(0.0, [CRASH]), (60.0, [CRASH])])
    assert incident is not None
    acked, post = acknowledge(incident, "U0ONCALL")
    assert acked.acknowledged_by == "U0ONCALL" and post.text == "<@U0ONCALL> is on it"


def test_policy_filters_by_code_and_severity() -> None:
    only_pulls = Policy(codes=frozenset({"ImagePullFailed"}))
    _, posted = run([(0.0, [CRASH]), (60.0, [CRASH])], policy=only_pulls)
    assert posted == []
    critical_only = Policy(min_severity="critical")
    warn = Finding("NotReady", "warning", "2 pods not ready", "…", (), ())
    _, posted = run([(0.0, [warn]), (60.0, [warn])], policy=critical_only)
    assert posted == []


def test_due_at_is_when_time_alone_moves_the_incident() -> None:
    """The watcher looks at these moments instead of up to an interval later."""
    assert due_at(None, DEFAULT, 0.0) is None
    pending, _ = run([(100.0, [CRASH])])
    assert due_at(pending, DEFAULT, 100.0) == 160.0  # the debounce ends
    opened, _ = run([(100.0, [CRASH]), (160.0, [CRASH])])
    assert due_at(opened, DEFAULT, 160.0) is None  # open and still broken: only a change moves it
    healing, _ = run([(100.0, [CRASH]), (160.0, [CRASH]), (200.0, [])])
    assert due_at(healing, DEFAULT, 200.0) == 500.0  # healthy since 200: resolve at 200 + 300
    resolved, _ = run([(100.0, [CRASH]), (160.0, [CRASH]), (200.0, []), (500.0, [])])
    assert resolved is not None and resolved.status == "resolved"
    assert due_at(resolved, DEFAULT, 500.0) is None
    muted, _ = run([(100.0, [CRASH]), (160.0, [CRASH])], incident=mute(None, ENV, until=900.0, now=0.0))
    assert muted is not None and muted.status == "pending"
    assert due_at(muted, DEFAULT, 160.0) == 900.0  # the debounce is over; the mute ends later
    assert due_at(muted, DEFAULT, 950.0) is None  # nothing left in the future: the next round decides
