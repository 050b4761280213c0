"""`deploybot ask` through the real entry point: the JSON contract, batch mode, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli


@pytest.fixture(scope="module")
def env(data_dir: Path) -> dict[str, str]:
    # Explicit, so the installed script and `python -c` in the repo read the same entries.
    return {"DEPLOYBOT_DATA_DIR": str(data_dir), "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge")}


def test_json_contract(env: dict[str, str]) -> None:
    done = run_cli("ask", "--json", "容器一直重启怎么办", env=env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"query", "confident", "not_ours", "answers"}
    assert payload["query"] == "容器一直重启怎么办"
    assert payload["confident"] is True
    assert 1 <= len(payload["answers"]) <= 3
    for answer in payload["answers"]:
        assert {"id", "title", "answer", "score", "source"} <= set(answer)
        assert 0.0 <= answer["score"] <= 1.0
    assert payload["answers"][0]["answer"].strip()
    assert payload["answers"][0]["id"] == payload["answers"][0]["id"].lower()


def test_human_output_has_title_steps_and_source(env: dict[str, str]) -> None:
    done = run_cli("ask", "ImagePullBackOff", env=env)
    assert done.returncode == 0, done.stderr
    assert "来源 / source:" in done.stdout
    assert "kubectl" in done.stdout
    assert "```" not in done.stdout  # fences become indented commands


def test_batch_from_stdin_answers_each_line_as_json(env: dict[str, str]) -> None:
    questions = ["节点 NotReady 怎么恢复", "", "今天中午吃什么", "   ", "发布单暂停在第一批怎么恢复"]
    done = run_cli("ask", "--json", stdin="\n".join(questions) + "\n", env=env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["query"] for line in lines] == [
        "节点 NotReady 怎么恢复",
        "今天中午吃什么",
        "发布单暂停在第一批怎么恢复",
    ]
    assert [line["confident"] for line in lines] == [True, False, True]


def test_off_topic_says_it_does_not_know(env: dict[str, str]) -> None:
    done = run_cli("ask", "明天北京天气怎么样", env=env)
    assert done.returncode == 0
    assert "I don't know" in done.stdout


@pytest.mark.parametrize("question", ["", "   ", "\t\n"])
def test_empty_question_is_a_clear_usage_error(env: dict[str, str], question: str) -> None:
    done = run_cli("ask", question, env=env)
    assert done.returncode == 2
    assert "the question is empty" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "question",
    [
        "容器一直重启" * 3000,  # 18,000 characters
        "x" * 20_000,
        "🔥🔥🔥 pod 挂了 🚑",
        "\x01\x1b[31mCrashLoopBackOff\x1b[0m\x7f",
        "'; drop table entries; --",
        "\ufeff\u202e镜像拉取失败",
    ],
)
def test_odd_input_never_crashes(env: dict[str, str], question: str) -> None:
    done = run_cli("ask", "--json", question, env=env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert isinstance(payload["confident"], bool)
    assert len(payload["query"]) <= 201


def test_control_characters_and_nul_on_stdin_are_answered() -> None:
    # argv cannot carry NUL; a pasted terminal log on stdin can.
    done = run_cli("ask", "--json", stdin="\x00\x1b[31mCrashLoopBackOff\x1b[0m\x00\n")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert "\x00" not in payload["query"] and "\x1b" not in payload["query"]
    assert payload["confident"] is True


def test_ask_path_imports_no_kubernetes_slack_or_sqlite_utils(env: dict[str, str]) -> None:
    assert run_cli("kb", "build", env=env).returncode == 0  # answering, not compiling, is measured
    code = (
        "import sys; from bot import cli; sys.argv=['deploybot','ask','--json','OOMKilled'];\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy=[m for m in ('kubernetes','slack_bolt','slack_sdk','sqlite_utils','aiohttp') if m in sys.modules]\n"  # noqa: E501
        "print('HEAVY', heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}
    )
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


def test_every_command_has_help_text() -> None:
    from bot.cli import main

    def walk(command: object, path: str) -> list[str]:
        missing = [] if getattr(command, "help", None) else [path]
        for name, sub in getattr(command, "commands", {}).items():
            missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(main, "deploybot") == []


def test_installed_package_answers_from_its_embedded_knowledge(tmp_path: Path) -> None:
    # The README's first command: no knowledge folder configured, nothing compiled yet.
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYBOT_KNOWLEDGE_DIR"}
    env["DEPLOYBOT_DATA_DIR"] = str(tmp_path / "fresh")
    script = Path(sys.executable).with_name("deploybot")
    done = subprocess.run(
        [str(script), "ask", "--json", "容器一直重启怎么办"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["confident"] is True
    assert (tmp_path / "fresh" / "knowledge.sqlite").exists()


def test_a_batch_line_that_cleans_to_nothing_is_answered_as_empty(env: dict[str, str]) -> None:
    done = run_cli(
        "ask", "--json", stdin="容器一直重启怎么办\n\x1b[0m\x00\u200b\nImagePullBackOff\n", env=env
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["容器一直重启怎么办", "", "ImagePullBackOff"]
    assert lines[1] == {"query": "", "confident": False, "not_ours": False, "answers": []}
    assert lines[2]["confident"] is True


@pytest.mark.parametrize(
    "question",
    ["容器一直重启怎么办", "ImagePullBackOff", "节点 NotReady 怎么恢复", "how do I drain a node", "镜像"],
)
def test_score_is_the_ranking_key(env: dict[str, str], question: str) -> None:
    payload = json.loads(run_cli("ask", "--json", question, env=env).stdout)
    scores = [answer["score"] for answer in payload["answers"]]
    assert scores == sorted(scores, reverse=True), scores


def test_the_fact_asked_for_is_printed_even_when_it_lives_in_the_causes(env: dict[str, str]) -> None:
    done = run_cli("ask", "default namespace 里容器默认的 cpu request 是多少", env=env)
    assert done.returncode == 0, done.stderr
    assert "100m" in done.stdout  # from 原因, which an answer does not print otherwise
    assert "依据 / from the entry:" in done.stdout


def test_related_topics_are_the_entrys_own_links(env: dict[str, str]) -> None:
    from bot.domain.entries import parse_entry

    done = run_cli("ask", "容器一直重启怎么办", env=env)
    line = next(x for x in done.stdout.splitlines() if x.startswith("相关 / related:"))
    top = done.stdout.splitlines()[0].rsplit("[", 1)[1].rstrip("]")
    entry = next(
        parse_entry(p.read_text(encoding="utf-8"), origin=p.name)
        for p in (REPO / "knowledge").rglob(f"{top}.md")
    )
    shown = [part.rsplit("[", 1)[1].rstrip("]") for part in line.split(": ", 1)[1].split("; ")]
    assert shown and set(shown) <= set(entry.related)


def test_terminal_keeps_the_indentation_inside_code_blocks() -> None:
    from bot.domain.entries import parse_entry
    from bot.render import answers
    from bot.services import Answer, AskResult

    text = (REPO / "knowledge" / "k8s" / "stale-image-same-tag.md").read_text(encoding="utf-8")
    entry = parse_entry(text, origin="stale-image-same-tag.md")
    printed = answers.to_text(AskResult(query="q", confident=True, answers=(Answer(entry, 1.0),)))
    lines = printed.splitlines()
    containers = next(i for i, line in enumerate(lines) if line.strip() == "containers:")
    assert lines[containers + 1] == lines[containers].replace("containers:", "- name: <container>")
    assert lines[containers + 2] == lines[containers].replace("containers:", "  image: <image>:<tag>")
