"""How fast `deploybot ask` feels: cold start, warm per-question latency, and scale.

    python benchmarks/ask.py            # shipped base + a 10,000-entry synthetic base
    python benchmarks/ask.py --quick    # skip the synthetic base

Numbers are printed, never asserted: timing belongs in a report, not in a test.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.config import Settings  # noqa: E402
from bot.knowledge_base import KnowledgeBase, build  # noqa: E402


def questions() -> list[str]:
    found: list[str] = []
    for path in sorted((REPO / "tests" / "data").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")):
            found.append(item["q"] if isinstance(item, dict) else str(item))
    return found


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(label: str, samples_s: list[float]) -> None:
    ms = [s * 1000 for s in samples_s]
    print(
        f"{label:<44} n={len(ms):<5} p50={statistics.median(ms):7.3f} ms"
        f"  p99={percentile(ms, 99):7.3f} ms  max={max(ms):7.3f} ms"
    )


def cli_cold_start(data_dir: Path, runs: int) -> None:
    """A fresh process answering one question, as a user at a terminal sees it."""
    env = {
        **os.environ,
        "DEPLOYBOT_DATA_DIR": str(data_dir),
        "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
    }
    command = [sys.executable, "-m", "bot", "ask", "--json", "容器一直重启怎么办"]
    subprocess.run(command, env=env, capture_output=True, check=True)  # compiles the base once
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    report("cold start: process + load + answer", samples)


def in_process(kb: KnowledgeBase, qs: list[str], label: str, rounds: int = 3, *, full: bool = False) -> None:
    """Warm per-question latency of the ranking (`kb.search`), or with `full` of the whole answer
    as `deploybot ask` makes it (`services.ask`: ranking, entries, the evidence sentence)."""
    from bot import services

    def answer(q: str) -> object:
        return services.ask(kb, q) if full else kb.search(q)

    for q in qs[:20]:
        answer(q)  # warm the segmenter and caches
    samples = []
    for _ in range(rounds):
        for q in qs:
            start = time.perf_counter()
            answer(q)
            samples.append(time.perf_counter() - start)
    report(label, samples)


def synthetic_base(target: Path, copies: int) -> None:
    """The shipped entries, cloned with shuffled vocabulary, to see how ranking scales."""
    sources = sorted((REPO / "knowledge").rglob("*.md"))
    sources = [p for p in sources if p.name != "README.md"]
    rng = random.Random(7)
    words = [
        "网关",
        "队列",
        "缓存",
        "证书",
        "订单",
        "支付",
        "库存",
        "搜索",
        "推荐",
        "风控",
        "报表",
        "账单",
        "消息",
        "定时",
        "任务",
        "日志",
    ]
    target.mkdir(parents=True)
    for n in range(copies):
        src = sources[n % len(sources)]
        text = src.read_text(encoding="utf-8")
        head, body = text.split("\n---\n", 1)
        meta = yaml.safe_load(head.removeprefix("---\n"))
        suffix = f"{rng.choice(words)}{n}"
        meta["id"] = f"{meta['id']}-{n}"
        meta["title"] = f"{meta['title']} {suffix}"
        meta["questions"] = [f"{q} {rng.choice(words)}" for q in meta["questions"]]
        meta.pop("related", None)
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        (target / f"{meta['id']}.md").write_text(f"---\n{front}---\n{body}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-entry synthetic base")
    parser.add_argument("--cold-runs", type=int, default=10)
    args = parser.parse_args()

    qs = questions()
    work = Path(tempfile.mkdtemp(prefix="deploybot-bench-"))
    try:
        settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=work / "data")
        start = time.perf_counter()
        report_, conn = build(settings)
        conn.close()
        print(f"build: {report_.entries} entries compiled in {(time.perf_counter() - start) * 1000:.0f} ms")
        cli_cold_start(work / "data", args.cold_runs)
        start = time.perf_counter()
        kb = KnowledgeBase.open(settings)
        print(f"open compiled base in process: {(time.perf_counter() - start) * 1000:.1f} ms")
        in_process(kb, qs, f"rank, shipped base ({report_.entries} entries)")
        in_process(kb, qs, "answer (services.ask), shipped base", full=True)
        kb.close()

        if not args.quick:
            big = Settings(knowledge_dir=work / "big", data_dir=work / "big-data")
            synthetic_base(big.knowledge_dir, 10_000)
            start = time.perf_counter()
            report_, conn = build(big)
            conn.close()
            print(f"build: {report_.entries} synthetic entries in {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            kb = KnowledgeBase.open(big)
            print(f"open 10k base: {(time.perf_counter() - start) * 1000:.0f} ms")
            in_process(kb, qs, "rank, 10,000-entry base", rounds=1)
            kb.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
