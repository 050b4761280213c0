"""The chart's RBAC rules (helm/deploybot/files/rbac-rules.yaml), as RBAC objects for tests."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO

RULES_FILE = REPO / "helm" / "deploybot" / "files" / "rbac-rules.yaml"


def chart_rules(*, read_only: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(namespaced rules, cluster rules), without the write rules when read_only."""
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))

    def strip(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [r for r in rules if not (read_only and r.get("write"))]
        return [{k: v for k, v in r.items() if k != "write"} for r in kept]

    return strip(data["namespaced"]), strip(data["cluster"])
