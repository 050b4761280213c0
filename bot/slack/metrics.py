"""Prometheus text exposition for a handful of counters and latency sums, no client library needed."""

from __future__ import annotations

import threading
from collections import defaultdict


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self._help = {
            "deploybot_requests_total": "Slack requests handled, by kind",
            "deploybot_answers_total": "Knowledge answers, by confidence",
            "deploybot_inspections_total": "Environment inspections, by result",
            "deploybot_actions_total": "Actions, by action and result",
            "deploybot_slack_errors_total": "Messages Slack refused, by method and Slack error code",
            "deploybot_latency_seconds_sum": "Total handling time, by kind",
            "deploybot_latency_seconds_count": "Handled requests counted in the latency sum, by kind",
        }

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        with self._lock:
            self._counters[(name, tuple(sorted(labels.items())))] += value

    def observe(self, kind: str, seconds: float) -> None:
        self.inc("deploybot_latency_seconds_sum", seconds, kind=kind)
        self.inc("deploybot_latency_seconds_count", 1.0, kind=kind)

    def render(self) -> str:
        with self._lock:
            items = sorted(self._counters.items())
        lines: list[str] = []
        seen: set[str] = set()
        for (name, labels), value in items:
            if name not in seen:
                seen.add(name)
                lines.append(f"# HELP {name} {self._help.get(name, name)}")
                lines.append(f"# TYPE {name} counter")
            rendered = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}")
        return "\n".join(lines) + "\n"
