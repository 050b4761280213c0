"""Block Kit payloads, pure: every message we build passes the strict Slack server's checks
(tests/slack_harness.block_errors, the same rules the local Slack applies), cluster text is
escaped so it never pings or links, and a big inspection goes to a thread instead of being cut."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.diagnosis import diagnose
from bot.domain.diagnosis_types import ActionRef, Finding
from bot.domain.entries import SECTION_STEPS, Entry
from bot.domain.releases import ReleaseOrder, release_orders
from bot.slack import blocks
from tests import k8s_objects as k
from tests.slack_harness import MAX_MESSAGE_TEXT, block_errors

NASTY = "<!channel> <!here> <@U0BOSS> <https://evil.example|click here> a & b > c <#C0GENERAL>"
TAKEN = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def valid(message: dict[str, Any]) -> dict[str, Any]:
    """The message as Slack would take it: no refusal, no key Slack does not know, text in limits."""
    head, _ = blocks.split_thread(message)
    assert set(head) <= {"text", "blocks"}, head.keys()
    assert head["text"] and len(head["text"]) <= MAX_MESSAGE_TEXT
    assert block_errors(head["blocks"]) == []
    return head


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn text in a message (what Slack parses for links and mentions), plus `text`."""
    found = [str(message.get("text", ""))]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return found


def assert_inert(message: dict[str, Any]) -> None:
    """No control sequence of the nasty input survived unescaped anywhere Slack would parse it."""
    for text in mrkdwn_texts(message):
        for live in ("<!channel>", "<!here>", "<https://evil", "<@U0BOSS>", "<#C0GENERAL>", " & b"):
            assert live not in text, (live, text)


def entry(id: str = "crashloopbackoff", title: str = "容器一直重启 <CrashLoopBackOff>") -> Entry:
    """A knowledge entry whose text is full of what mrkdwn would misread."""
    steps = (
        "1. **查看日志**:\n```\nkubectl logs <pod> -n <namespace> --previous\n```\n"
        "2. 参考 [发布指南](https://docs.example.com/release?a=1&b=2)\n## 再看事件 <events>"
    )
    return Entry(
        id=id,
        title=title,
        summary="先看上一次的日志 & 事件: `kubectl logs <pod> -n <namespace> --previous`",
        questions=(),
        tags=(),
        sources=("k8s <faq>",),
        findings=(),
        related=(),
        sections={SECTION_STEPS: steps},
    )


def finding(n: int, *, evidence: tuple[str, ...] = (), actions: tuple[ActionRef, ...] = ()) -> Finding:
    return Finding(
        code="CrashLoop",
        severity="critical",
        title=f"finding {n}: {NASTY}",
        detail=f"detail {n} {NASTY}",
        evidence=evidence or (f"Pod/p-{n}: {NASTY}",),
        objects=(f"Pod/p-{n}",),
        actions=actions,
        kb=("crashloopbackoff",),
    )


def inspection(findings: list[Finding], buttons: list[blocks.Button], **kwargs: Any) -> dict[str, Any]:
    return blocks.inspection(
        environment="shop-prod",
        summary=kwargs.pop("summary", "shop-prod: 1 critical"),
        orders=kwargs.pop("orders", []),
        findings=findings,
        buttons=buttons,
        kb_titles={"crashloopbackoff": "容器一直重启"},
        unavailable=kwargs.pop("unavailable", {}),
        taken_at=TAKEN,
        **kwargs,
    )


# ---------------------------------------------------------------- escaping


def test_escape_is_exactly_slacks_three_entities() -> None:
    assert blocks.escape("a & <b> é ' \"") == "a &amp; &lt;b&gt; é ' \""
    assert blocks.md("x < ", blocks.link("https://a.example/?q=1|2", "a <b>"), " & y") == (
        "x &lt; <https://a.example/?q=1%7C2|a &lt;b&gt;> &amp; y"
    )
    assert blocks.mention("U012ABCDEF") == "<@U012ABCDEF>"
    assert blocks.mention("<!channel>") == "&lt;!channel&gt;"


def test_knowledge_answer_shows_placeholders_and_keeps_its_own_links() -> None:
    message = valid(blocks.answer("q", True, [entry(), entry("other", "另一个 <x>")], feedback_ref="f1"))
    text = json.dumps(message, ensure_ascii=False)
    assert "kubectl logs &lt;pod&gt; -n &lt;namespace&gt; --previous" in text
    assert "<https://docs.example.com/release?a=1&amp;b=2|发布指南>" in text  # our link stays live
    assert "*再看事件 &lt;events&gt;*" in text and "*查看日志*" in text
    assert "<pod>" not in "".join(mrkdwn_texts(message))
    header = message["blocks"][0]["text"]
    assert header == {"type": "plain_text", "text": "容器一直重启 <CrashLoopBackOff>", "emoji": True}


def test_cluster_text_never_pings_or_links_but_our_mention_does() -> None:
    f = finding(1, actions=(ActionRef("restart", "Deployment/shop-web"),))
    button = blocks.Button("restart", "Deployment/shop-web", "ref-1", confirm=f"restart {NASTY}")
    order = ReleaseOrder(
        kind="Deployment", source="apps", target="Deployment/shop-web", revision="5", state="failed",
        batch=1, batches=2, old_version="web:<old>", new_version="web:<new>", desired=2, updated=1,
        ready=0, available=0, started_at=None, changed_at=None, reason=NASTY, resource_version="1",
    )  # fmt: skip
    message = valid(
        inspection(
            [f],
            [button],
            summary=f"shop-prod {NASTY}",
            orders=[order],
            unavailable={"nodes": NASTY},
            done_note=f":white_check_mark: <@U0OPERATOR> restart Deployment/shop-web {NASTY}",
        )
    )
    assert_inert(message)
    texts = "\n".join(mrkdwn_texts(message))
    assert "&lt;!channel&gt;" in texts and "&lt;https://evil.example|click here&gt;" in texts
    assert "<@U0OPERATOR> restart Deployment/shop-web" in texts  # our own mention stays live
    assert texts.count("<@") == 1


def test_text_replies_escape_and_code_output_keeps_its_fences() -> None:
    help_text = valid(blocks.text_reply("`/deploybot inspect <env>` & more"))
    assert "`/deploybot inspect &lt;env&gt;` &amp; more" in help_text["blocks"][0]["text"]["text"]
    log = "\n".join(f"line {i} <!channel> & {'x' * 40}" for i in range(400))
    tail = valid(blocks.text_reply(log, code=True))
    body = tail["blocks"][0]["text"]["text"]
    assert body.startswith("```") and body.endswith("```") and len(body) <= blocks.MAX_SECTION
    assert "line 399" in body and "&lt;!channel&gt; &amp;" in body and "<!channel>" not in body
    assert "showing the last" in tail["blocks"][1]["elements"][0]["text"]
    assert_inert(tail)


@pytest.mark.parametrize("cut", range(2990, 3010))
def test_clipping_never_leaves_half_an_entity(cut: int) -> None:
    text = "x" * cut + "<&>" * 10
    section = blocks.section(text)["text"]["text"]
    assert len(section) <= blocks.MAX_SECTION
    assert not section.rstrip("…").endswith(("&", "&a", "&am", "&amp", "&l", "&lt", "&g", "&gt"))


# ---------------------------------------------------------------- action ids


def test_action_ids_are_unique_within_each_block() -> None:
    message = valid(blocks.answer("q", False, [entry(f"e{i}", f"t{i}") for i in range(5)]))
    ids = [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids == [
        "deploybot:topic",
        "deploybot:topic:2",
        "deploybot:topic:3",
        "deploybot:topic:4",
        "deploybot:topic:5",
    ]
    assert all(blocks.TOPIC_ID.match(i) for i in ids)
    pods = [f"Pod/shop-web-{i}" for i in range(30)]
    evicted = finding(1, actions=tuple(ActionRef("delete_pod", p) for p in pods))
    buttons = [blocks.Button("delete_pod", p, f"ref-{p}", confirm=f"delete {p}") for p in pods]
    message = valid(inspection([evicted], buttons))
    rows = [b["elements"] for b in message["blocks"] if b["type"] == "actions"]
    assert [len(r) for r in rows] == [25, 5]  # Slack's 25 elements per actions block
    ids = [e["action_id"] for r in rows for e in r]
    assert ids[0] == "deploybot:act:delete_pod" and ids[1] == "deploybot:act:delete_pod:2"
    assert all(blocks.ACTION_ID.match(i) for i in ids)
    assert [e["value"] for r in rows for e in r] == [f"ref-{p}" for p in pods]  # every pod has its button


# ---------------------------------------------------------------- big inspections


def realistic_findings(workloads: int) -> list[Finding]:
    objects: list[dict[str, Any]] = []
    for n in range(workloads):
        app = f"app-{n:02d}"
        objects += k.web_workload(app=app, replicas=1, ready=0)
        crash = k.container_status(
            "web",
            state=k.waiting("CrashLoopBackOff", "back-off"),
            last_state=k.terminated(1, "Error", finished=1.5, ran=0.1, message=NASTY),
            ready=False,
            restarts=9,
        )
        objects.append(k.web_pod(0, app=app, status=k.pod_status(containers=[crash])))
    objects += k.evicted_pods(4)
    snapshot = k.snapshot(objects)
    return diagnose(snapshot, release_orders(snapshot))


def test_big_inspection_is_a_summary_plus_thread_replies_with_every_finding() -> None:
    findings = realistic_findings(14)
    buttons = [
        blocks.Button(a.action, a.target, f"ref-{a.action}-{a.target}", confirm=f"{a.action} {a.target}")
        for f in findings
        for a in f.actions
    ]
    message = inspection(findings, buttons)
    head, replies = blocks.split_thread(message)
    assert replies, "14+ findings do not fit one message"
    messages = [valid(head), *(valid(r) for r in replies)]
    for m in messages:
        assert len(m["blocks"]) <= blocks.MAX_BLOCKS
        assert_inert(m)
    everything = json.dumps(messages, ensure_ascii=False)
    assert "not shown" not in everything
    assert "more findings in the thread" in json.dumps(head, ensure_ascii=False)
    for f in findings:  # each finding exactly once, whole, in one message
        assert sum(f.title in json.dumps(m, ensure_ascii=False) for m in messages) == 1, f.title
    values = [
        e["value"] for m in messages for b in m["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert sorted(values) == sorted(b.ref for b in buttons)
    assert head["blocks"][-1]["elements"][0]["text"].startswith("inspected at")


def test_a_finding_with_huge_evidence_still_fits_one_message() -> None:
    lines = tuple(f"Pod/p-{i}: {'e' * 1400} {NASTY}" for i in range(120))
    message = inspection([finding(1, evidence=lines), finding(2)], [])
    head, replies = blocks.split_thread(message)
    for m in [valid(head), *(valid(r) for r in replies)]:
        assert_inert(m)
    text = json.dumps([head, *replies], ensure_ascii=False)
    assert "more evidence lines" in text and "finding 2" in text


def test_small_inspection_is_one_message() -> None:
    findings = realistic_findings(2)
    head, replies = blocks.split_thread(inspection(findings, []))
    assert replies == [] and valid(head)


def test_fallback_is_short_plain_text_and_escaped() -> None:
    message = blocks.inspection(
        environment="shop-prod", summary=f"shop-prod {NASTY} " + "x" * 5000, orders=[], findings=[],
        buttons=[], kb_titles={}, unavailable={}, taken_at=TAKEN,
    )  # fmt: skip
    short = blocks.fallback(blocks.split_thread(message)[0], "invalid_blocks")
    assert set(short) == {"text"} and len(short["text"]) <= blocks.MAX_SECTION
    assert short["text"].startswith(":warning: Slack could not show the full reply (invalid_blocks).")
    assert "&lt;!channel&gt;" in short["text"]
    assert_inert(short)
