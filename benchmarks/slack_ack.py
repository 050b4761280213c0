"""How fast Slack hears back: ack latency of signed slash commands, and time to the answer.

    python benchmarks/slack_ack.py [--requests 200]

Runs deploybot's real HTTP server and a local Slack Web API server in process; no cluster is
needed (the commands ask the knowledge base). Prints p50/p99; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.config import Settings  # noqa: E402
from bot.domain.environments import Config  # noqa: E402
from bot.slack.app import build_app  # noqa: E402
from bot.slack.serve import make_runtime, web_app  # noqa: E402
from tests.slack_harness import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    LoopThread,
    command_body,
    post,
    serve_app,
    signed_headers,
    start_fake_slack,
)

QUESTIONS = [
    "容器一直重启怎么办",
    "ImagePullBackOff",
    "节点 NotReady 怎么恢复",
    "发布单暂停在第一批怎么恢复",
    "今天中午吃什么",
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    runtime = make_runtime(Settings(REPO / "knowledge", Path(tempfile.mkdtemp())), Config("bench", {}))

    async def make() -> object:
        app = build_app(runtime, token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake.url + "/api/")
        return web_app(app, runtime, signing_secret=SIGNING_SECRET)

    application = loop.run(make())
    url, _ = serve_app(loop, lambda: application)  # type: ignore[arg-type,return-value]
    acks, answers = [], []
    for i in range(args.requests):
        method = f"response/{i}"
        body = command_body(
            f"ask {QUESTIONS[i % len(QUESTIONS)]}", user="U0BENCH", response_url=f"{fake.url}/{method}"
        )
        started = time.perf_counter()
        reply = post(url + "/slack/events", body, signed_headers(body))
        acks.append(time.perf_counter() - started)
        assert reply.status == 200, reply
        fake.wait_for(method)
        answers.append(time.perf_counter() - started)
    ms = lambda xs: [x * 1000 for x in xs]  # noqa: E731
    for label, values in (
        ("ack (HTTP 200 to Slack)", ms(acks)),
        ("answer posted to response_url", ms(answers)),
    ):
        print(
            f"{label:<32} n={len(values)} p50={statistics.median(values):6.1f} ms"
            f"  p99={pct(values, 99):6.1f} ms"
        )
    loop.stop()


if __name__ == "__main__":
    main()
