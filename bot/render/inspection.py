"""Inspection reports as the JSON contract of `deploybot inspect --json` and as a compact text report.

The text report is cluster data printed on a terminal: it goes out through `terminal_safe`, so an
event or termination message cannot move the cursor, retitle the window or reverse a line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.diagnosis_types import ActionRef, Finding
from bot.domain.releases import ReleaseOrder
from bot.domain.report import pod_row
from bot.domain.text import terminal_safe
from bot.inspection import InspectResult

SEVERITY_MARK = {"critical": "✖", "warning": "!", "info": "·"}
MAX_HISTORY = 5


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def order_json(order: ReleaseOrder) -> dict[str, Any]:
    return {
        "target": order.target,
        "kind": order.kind,
        "source": order.source,
        "revision": order.revision,
        "state": order.state,
        "batch": order.batch,
        "batches": order.batches,
        "old_version": order.old_version,
        "new_version": order.new_version,
        "replicas": {
            "desired": order.desired,
            "updated": order.updated,
            "ready": order.ready,
            "available": order.available,
        },
        "started_at": _time(order.started_at),
        "changed_at": _time(order.changed_at),
        "reason": order.reason,
        "current": order.current,
        "resource_version": order.resource_version,
    }


def action_json(action: ActionRef) -> dict[str, Any]:
    return {"action": action.action, "target": action.target, "params": dict(action.params)}


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "title": finding.title,
        "detail": finding.detail,
        "evidence": list(finding.evidence),
        "objects": list(finding.objects),
        "kb": list(finding.kb),
        "actions": [action_json(a) for a in finding.actions],
    }


def to_json(result: InspectResult) -> dict[str, Any]:
    snapshot = result.snapshot
    return {
        "environment": result.environment.name,
        "namespace": result.environment.namespace,
        "summary": result.summary,
        "pods": [
            {
                "name": row.name,
                "phase": row.phase,
                "status": row.status,
                "ready": row.ready,
                "restarts": row.restarts,
                "node": row.node,
            }
            for row in map(pod_row, snapshot.pods)
        ],
        "release_orders": [order_json(o) for o in result.orders],
        "findings": [finding_json(f) for f in result.findings],
        "unavailable": dict(snapshot.unavailable),
        "taken_at": snapshot.taken_at.isoformat(),
    }


def _order_line(order: ReleaseOrder) -> str:
    versions = (
        f"{order.old_version} → {order.new_version}" if order.old_version else f"{order.new_version or '?'}"
    )
    counts = f"{order.updated}/{order.desired} updated, {order.ready} ready"
    line = f"  {order.target}  {order.state}  batch {order.batch}/{order.batches}  {versions}  ({counts})"
    return line + (f"\n    {order.reason}" if order.reason else "")


def _finding_lines(finding: Finding) -> list[str]:
    lines = [
        f"{SEVERITY_MARK.get(finding.severity, '-')} [{finding.code}] {finding.title}",
        f"    {finding.detail}",
    ]
    lines += [f"    - {e}" for e in finding.evidence]
    if finding.kb:
        lines.append(f"    知识库 / kb: {', '.join(finding.kb)}  (deploybot kb show <id>)")
    if finding.actions:
        offered = ", ".join(f"{a.action} {a.target}" for a in finding.actions)
        lines.append(f"    actions: {offered}")
    return lines


def to_text(result: InspectResult) -> str:
    lines = [result.summary]
    for field, why in sorted(result.snapshot.unavailable.items()):
        lines.append(f"  (could not read {field}: {why})")
    current = [o for o in result.orders if o.current]
    if current:
        lines.append("release orders:")
        lines += [_order_line(o) for o in current[:MAX_HISTORY]]
    for finding in result.findings:
        lines.append("")
        lines += _finding_lines(finding)
    return terminal_safe("\n".join(lines))
