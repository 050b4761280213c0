"""Socket Mode ack latency: envelope sent on the WebSocket -> the app's ack received.

    python benchmarks/socket_ack.py [--envelopes 300]

Runs `deploybot serve` as a real process in Socket Mode against a local Socket Mode server
(tests/socket_mode_server.py) in front of the local Slack Web API server; no cluster is needed
(slash commands ask the knowledge base, mentions answer from it). Envelopes go one at a time,
alternating slash_commands and events_api; prints p50/p99/max; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.config import Settings  # noqa: E402
from bot.knowledge_base import KnowledgeBase  # noqa: E402
from tests.slack_harness import BOT_TOKEN, LoopThread, start_fake_slack  # noqa: E402
from tests.socket_mode_server import (  # noqa: E402
    APP_TOKEN,
    ServeProcess,
    SocketModeServer,
    app_mention,
    events_api,
    slash_command,
)

QUESTIONS = ["help", "ask 容器一直重启怎么办", "ask ImagePullBackOff", "ask 今天中午吃什么"]
WARMUP = 10


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envelopes", type=int, default=300)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="socket-ack-"))
    settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=tmp / "kb")
    KnowledgeBase.open(settings).close()  # compiled once, shared with the process
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    server = SocketModeServer(fake.url)
    server.start(loop)
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": server.url + "/api/",
        "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
        "DEPLOYBOT_KNOWLEDGE_DB": str(settings.knowledge_db),
    }
    process = ServeProcess.start(tmp / "serve", env)
    try:
        server.wait_connected(timeout=60)
        latencies: dict[str, list[float]] = {"slash_commands": [], "events_api": []}
        for i in range(args.envelopes + WARMUP):
            if i % 2:
                event = app_mention(
                    QUESTIONS[i % len(QUESTIONS)].removeprefix("ask "),
                    user="U0BENCH",
                    channel="CBENCH",
                    ts=f"1700001000.{i:06d}",
                )
                envelope = events_api(event, event_id=f"EvBench{i}")
            else:
                url = f"{fake.url}/response/bench-{i}"
                envelope = slash_command(QUESTIONS[i % len(QUESTIONS)], user="U0BENCH", response_url=url)
            ack = server.send(envelope)
            if i >= WARMUP:
                latencies[ack.kind].append(ack.latency)
        fake.settle(timeout=30)
        problems = server.verdict()
    finally:
        code = process.terminate()
        server.stop()
        loop.stop()
    every = [v for values in latencies.values() for v in values]
    print(
        f"Socket Mode ack latency, {len(every)} envelopes against `deploybot serve` (exit {code} on SIGTERM):"
    )
    for kind, values in [("all", every), *latencies.items()]:
        print(
            f"  {kind:15} n={len(values):4}  p50 {pct(values, 50) * 1000:6.1f} ms  "
            f"p99 {pct(values, 99) * 1000:6.1f} ms  max {max(values) * 1000:6.1f} ms  "
            f"mean {statistics.fmean(values) * 1000:6.1f} ms"
        )
    print(f"  protocol problems: {problems or 'none'}; Web API calls: {len(fake.calls)}")


if __name__ == "__main__":
    main()
