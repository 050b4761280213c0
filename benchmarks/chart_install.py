"""How long `helm install` of the chart takes on a real API server (kube-local), by variant.

    python benchmarks/chart_install.py --kubeconfig /tmp/kube-local/kubeconfig [--runs 5]

Installs with the Helm v4 library (helm-sdkpy, no --wait: kube-local runs no pods), each into its own
namespace, uninstalls again, and prints the median and slowest install per variant; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

CHART = Path(__file__).resolve().parent.parent / "helm" / "deploybot"
TOKENS = {"botToken": "xoxb-bench", "signingSecret": "s"}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {"slack": TOKENS},
    "existingSecret + database, 2 replicas": {
        "replicaCount": 2,
        "slack": {"existingSecret": "team-slack"},
        "database": {"url": "postgresql://deploybot@db:5432/deploybot"},
    },
    "socket": {"mode": "socket", "slack": {"botToken": "xoxb-bench", "appToken": "xapp-bench"}},
    "rbac.readOnly": {"slack": TOKENS, "rbac": {"readOnly": True}},
    "persistence": {"slack": TOKENS, "persistence": {"enabled": True}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import helm_sdkpy

    for variant, values in VARIANTS.items():
        times = []
        for _ in range(args.runs):
            namespace, name = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:4]}"
            config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=args.kubeconfig)
            started = time.perf_counter()
            asyncio.run(
                helm_sdkpy.Install(config).run(
                    name, str(CHART), values=values, create_namespace=True, wait=False, timeout=60
                )
            )
            times.append(time.perf_counter() - started)
            asyncio.run(helm_sdkpy.Uninstall(config).run(name, wait=False))
        print(
            f"{variant:40} install median {statistics.median(times):.2f} s, slowest {max(times):.2f} s "
            f"({args.runs} runs)"
        )


if __name__ == "__main__":
    main()
