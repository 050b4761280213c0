"""The inspect use case: snapshot (concurrent, off the event loop) -> release orders -> findings
-> knowledge links -> one summary line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from bot.adapters import kube
from bot.adapters.kube import KubeClient
from bot.domain import diagnosis, releases, report
from bot.domain.diagnosis_types import Finding
from bot.domain.environments import Environment
from bot.domain.releases import ReleaseOrder
from bot.domain.snapshot import Snapshot
from bot.knowledge_base import KnowledgeBase


@dataclass(frozen=True)
class InspectResult:
    environment: Environment
    snapshot: Snapshot
    orders: tuple[ReleaseOrder, ...]
    findings: tuple[Finding, ...]
    summary: str
    api_calls: int


async def inspect_async(client: KubeClient, env: Environment, kb: KnowledgeBase | None) -> InspectResult:
    """Snapshot (concurrent, off the event loop) -> release orders -> findings -> knowledge links."""
    calls_before = client.calls
    snapshot = await kube.fetch_snapshot(client, env)
    return diagnose_snapshot(snapshot, env, kb, api_calls=client.calls - calls_before)


def diagnose_snapshot(
    snapshot: Snapshot, env: Environment, kb: KnowledgeBase | None, *, api_calls: int = 0
) -> InspectResult:
    """Release orders, findings and knowledge links of a snapshot however it was taken (listed now,
    or kept current by a watch)."""
    orders = releases.release_orders(snapshot)
    findings = tuple(
        _with_knowledge(f, kb)
        for f in diagnosis.diagnose(snapshot, orders, paused_warning_after=env.paused_warning_after)
    )
    return InspectResult(
        environment=env,
        snapshot=snapshot,
        orders=orders,
        findings=findings,
        summary=report.summarize(snapshot, orders, findings),
        api_calls=api_calls,
    )


def inspect(client: KubeClient, env: Environment, kb: KnowledgeBase | None) -> InspectResult:
    return asyncio.run(inspect_async(client, env, kb))


def _with_knowledge(finding: Finding, kb: KnowledgeBase | None, limit: int = 2) -> Finding:
    """The entries of this finding code that best match what was seen (search over its words)."""
    if kb is None:
        return finding
    candidates = [e.id for e in kb.entries_for_finding(finding.code)]
    if not candidates:
        return finding
    ranked = [h.entry_id for h in kb.search(f"{finding.title} {finding.detail}").hits]
    ordered = [i for i in ranked if i in candidates] + [i for i in candidates if i not in ranked]
    return replace(finding, kb=tuple(ordered[:limit]))
