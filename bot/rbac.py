"""The API permissions deploybot needs: one file shared by the Helm chart, `doctor` and the tests.

helm/deploybot/files/rbac-rules.yaml is the source; the wheel carries a copy as
bot/_rbac-rules.yaml so an installed bot can check its own access.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Permission:
    group: str
    resource: str  # may carry a subresource: "pods/log", "rollouts/status"
    verb: str
    namespaced: bool
    write: bool
    #: Argo/Kruise rollouts: only needed where those CRDs are installed
    optional: bool


def rules_file() -> Path:
    packaged = PACKAGE_DIR / "_rbac-rules.yaml"
    return (
        packaged
        if packaged.exists()
        else PACKAGE_DIR.parent / "helm" / "deploybot" / "files" / "rbac-rules.yaml"
    )


def permissions() -> list[Permission]:
    data = yaml.safe_load(rules_file().read_text(encoding="utf-8"))
    found = []
    for scope, namespaced in (("namespaced", True), ("cluster", False)):
        for rule in data[scope]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        optional = group in ("argoproj.io", "rollouts.kruise.io")
                        found.append(
                            Permission(group, resource, verb, namespaced, bool(rule.get("write")), optional)
                        )
    return found
