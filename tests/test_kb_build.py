"""`deploybot kb build|import`, and rebuilding on first use when the entries change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters import kb_store
from bot.config import Settings
from bot.knowledge_base import KnowledgeBase, is_fresh
from tests.conftest import REPO, run_cli

ENTRY = """---
id: {id}
title: {title}
summary: 先看事件,再对症处理。
questions: [{question}, what does {id} mean, '{id} error in events']
tags: [测试]
source: k8s-pod-deploy-failures
findings: []
{extra}---

## 现象
看到 {title}。

## 原因
测试用的原因。

## 处理步骤
1. 执行:
   ```bash
   kubectl get events -n <namespace>
   ```
"""


def write_entry(
    root: Path, entry_id: str, title: str, question: str, extra: str = "", name: str = ""
) -> Path:
    path = root / (name or f"{entry_id}.md")
    path.write_text(ENTRY.format(id=entry_id, title=title, question=question, extra=extra), encoding="utf-8")
    return path


@pytest.fixture
def small_base(tmp_path: Path) -> Settings:
    root = tmp_path / "knowledge"
    root.mkdir()
    write_entry(root, "zebra-gateway-timeout", "斑马网关超时如何处理", "斑马网关老是超时")
    write_entry(root, "walrus-queue-backlog", "海象队列积压怎么办", "海象队列堆积了")
    return Settings(knowledge_dir=root, data_dir=tmp_path / "data")


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "DEPLOYBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir),
        "DEPLOYBOT_DATA_DIR": str(settings.data_dir),
    }


def test_build_compiles_the_shipped_base(tmp_path: Path) -> None:
    done = run_cli("kb", "build", env={"DEPLOYBOT_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    count = int(done.stdout.split()[1])
    assert count >= 60
    assert (tmp_path / "knowledge.sqlite").is_file()


def test_the_compiled_base_is_readable_by_other_users(small_base: Settings) -> None:
    """An image compiles it as root and runs as uid 10001: a 0600 file would be rebuilt in memory
    at every start."""
    KnowledgeBase.open(small_base).close()
    mode = small_base.knowledge_db.stat().st_mode & 0o777
    assert mode & 0o044 == 0o044, oct(mode)


def test_build_reports_every_problem_with_file_and_field(small_base: Settings) -> None:
    root = small_base.knowledge_dir
    write_entry(root, "zebra-gateway-timeout", "重复的 id", "重复", name="dup.md")
    write_entry(root, "broken-link", "坏链接", "坏链接", extra="related: [no-such-entry]\n")
    (root / "bad-finding.md").write_text(
        ENTRY.format(id="bad-finding", title="t", question="q", extra="").replace(
            "findings: []", "findings: [Nope]"
        ),
        encoding="utf-8",
    )
    done = run_cli("kb", "build", env=cli_env(small_base))
    assert done.returncode == 1
    assert (
        "knowledge/zebra-gateway-timeout.md: id: duplicate id 'zebra-gateway-timeout', also in knowledge/dup.md"  # noqa: E501
        in done.stderr
    )
    assert "knowledge/broken-link.md: related: links to unknown entry 'no-such-entry'" in done.stderr
    assert "knowledge/bad-finding.md: findings: unknown finding code 'Nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_first_use_builds_and_an_edit_triggers_a_rebuild(small_base: Settings) -> None:
    assert not is_fresh(small_base)
    kb = KnowledgeBase.open(small_base)
    assert kb.search("斑马网关老是超时").hits[0].entry_id == "zebra-gateway-timeout"
    kb.close()
    assert is_fresh(small_base)

    write_entry(small_base.knowledge_dir, "walrus-queue-backlog", "海象队列积压与企鹅告警", "企鹅告警响了")
    assert not is_fresh(small_base)
    kb = KnowledgeBase.open(small_base)
    assert kb.search("企鹅告警").hits[0].entry_id == "walrus-queue-backlog"
    kb.close()


def test_touching_a_file_without_changing_it_does_not_rebuild(small_base: Settings) -> None:
    KnowledgeBase.open(small_base).close()
    built_at = kb_store.read_meta(small_base.knowledge_db)["built_at"]
    path = small_base.knowledge_dir / "zebra-gateway-timeout.md"
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")  # new mtime, same content
    assert is_fresh(small_base)  # content hash matches: only the stat fingerprint is refreshed
    KnowledgeBase.open(small_base).close()
    assert kb_store.read_meta(small_base.knowledge_db)["built_at"] == built_at


def test_unwritable_data_folder_falls_back_to_memory(small_base: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    settings = Settings(knowledge_dir=small_base.knowledge_dir, data_dir=blocker / "data")
    kb = KnowledgeBase.open(settings)
    assert kb.search("海象队列积压怎么办").confident
    kb.close()


def test_import_makes_drafts_that_stay_out_of_answers(small_base: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "runbook.md").write_text(
        "# Runbook\n\n## 网关 502 排查\n先看网关日志,再检查后端 pod 是否就绪。\n\n## 证书过期\n用 openssl 查看证书到期时间。\n",  # noqa: E501
        encoding="utf-8",
    )
    (docs / "faq.html").write_text(
        "<html><nav>首页 | 文档</nav><h2>犀牛服务怎么扩容?</h2><p>修改副本数,然后观察犀牛指标。</p>"
        "<h2>犀牛日志在哪</h2><p>在 /var/log/rhino/ 目录下面。</p><script>track()</script></html>",
        encoding="utf-8",
    )
    (docs / "notes.txt").write_text(
        "问题1:河马任务失败怎么重跑?\n在控制台点击重跑按钮即可。\n问题2:河马任务超时\n调大超时时间到 600 秒。\n",  # noqa: E501
        encoding="utf-8",
    )
    done = run_cli("kb", "import", str(docs), env=cli_env(small_base))
    assert done.returncode == 0, done.stderr
    drafts = sorted((small_base.knowledge_dir / "drafts").glob("*.md"))
    titles = {p.read_text(encoding="utf-8").split("title: ")[1].splitlines()[0] for p in drafts}
    assert titles == {
        "网关 502 排查",
        "证书过期",
        "犀牛服务怎么扩容?",
        "犀牛日志在哪",
        "问题1:河马任务失败怎么重跑?",
        "问题2:河马任务超时",
    }
    assert all("draft: true" in p.read_text(encoding="utf-8") for p in drafts)
    assert "track()" not in "".join(p.read_text(encoding="utf-8") for p in drafts)

    built = run_cli("kb", "build", env=cli_env(small_base))
    assert built.returncode == 0, built.stderr
    assert "6 drafts" in built.stdout
    kb = KnowledgeBase.open(small_base)
    ranking = kb.search("犀牛服务怎么扩容")
    assert all(not h.entry_id.startswith("draft-") for h in ranking.hits)
    kb.close()

    again = run_cli("kb", "import", str(docs), env=cli_env(small_base))
    assert "0 draft entries" in again.stdout  # never overwrites a draft someone may be editing


def test_import_rejects_unknown_file_types(small_base: Settings, tmp_path: Path) -> None:
    odd = tmp_path / "slides.pptx"
    odd.write_bytes(b"PK\x03\x04")
    done = run_cli("kb", "import", str(odd), env=cli_env(small_base))
    assert done.returncode == 2
    assert "unsupported file type '.pptx'" in done.stderr


def test_shipped_entries_are_packaged_with_the_wheel() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"knowledge" = "bot/_knowledge"' in text


SYNONYMS = """format: deploybot-synonyms/1
concepts:
  zebra: [斑马, 条纹马, zebra]
"""


def test_synonyms_are_data_next_to_the_entries_and_an_edit_rebuilds(small_base: Settings) -> None:
    kb = KnowledgeBase.open(small_base)
    assert not kb.search("条纹马网关超时").confident  # nobody told the base that 条纹马 is a 斑马
    kb.close()
    (small_base.knowledge_dir / "synonyms.yaml").write_text(SYNONYMS, encoding="utf-8")
    assert not is_fresh(small_base)  # the table is part of the content hash
    kb = KnowledgeBase.open(small_base)
    ranking = kb.search("条纹马网关超时")
    assert ranking.hits[0].entry_id == "zebra-gateway-timeout"
    assert ranking.confident
    kb.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "format: synonyms/9\nconcepts:\n  zebra: [斑马]\n",
            "synonyms.yaml:1: format: unknown format 'synonyms/9'",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马,\n    条纹马, 斑马]\n",
            "synonyms.yaml:4: concepts.zebra: duplicate phrase '斑马' (also on line 3)",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: []\n",
            "synonyms.yaml:3: concepts.zebra: empty group",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马]\n  zebra: [条纹马]\n",
            "synonyms.yaml:4: concepts.zebra: duplicate concept (first on line 3)",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马]\nopposites:\n  - [zebra, walrus]\n",
            "synonyms.yaml:5: opposites: unknown concept 'walrus'",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马]\nelsewhere: [zebra, walrus]\n",
            "synonyms.yaml:4: elsewhere: unknown concept 'walrus'",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马]\n  walrus: [海象]\n"
            "restore:\n  zebra: [walrus]\n",
            "synonyms.yaml:6: restore.zebra: 'walrus' is not one side of an `opposites` pair",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马]\nrestore:\n  yak: [zebra]\n",
            "synonyms.yaml:5: restore.yak: unknown concept 'yak'",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马]\ncompare: 区别\n",
            "synonyms.yaml:4: compare: must be a list of words",
        ),
        (
            "format: deploybot-synonyms/1\nconcepts:\n  zebra: [斑马]\nquantity: [多少, 多少]\n",
            "synonyms.yaml:4: quantity: duplicate word '多少' (also on line 4)",
        ),
    ],
)
def test_kb_build_names_the_line_of_a_bad_synonym_table(
    small_base: Settings, text: str, message: str
) -> None:
    assert_build_reports(small_base, "synonyms.yaml", text, message)


def assert_build_reports(settings: Settings, name: str, text: str, message: str) -> None:
    (settings.knowledge_dir / name).write_text(text, encoding="utf-8")
    done = run_cli("kb", "build", env=cli_env(settings))
    assert done.returncode == 1
    assert f"knowledge/{message}" in done.stderr
    assert "Traceback" not in done.stderr


NOT_OURS = """format: deploybot-not-ours/1
questions:
  - 斑马网关的证书快过期了怎么续期
  - 斑马网关证书在哪里上传
  - 斑马网关怎么换 https 证书
  - 斑马网关的域名怎么备案
  - 证书过期了浏览器报不安全
"""


def test_questions_not_ours_are_data_next_to_the_entries_and_an_edit_rebuilds(small_base: Settings) -> None:
    kb = KnowledgeBase.open(small_base)
    assert not kb.search("斑马网关证书").not_ours
    kb.close()
    (small_base.knowledge_dir / "not_ours.yaml").write_text(NOT_OURS, encoding="utf-8")
    assert not is_fresh(small_base)  # the file is part of the content hash
    kb = KnowledgeBase.open(small_base)
    ranking = kb.search("斑马网关证书")
    assert ranking.not_ours and not ranking.confident
    assert kb.search("斑马网关老是超时").confident
    kb.close()
    done = run_cli("ask", "--json", "斑马网关证书", env=cli_env(small_base))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["confident"] is False and payload["not_ours"] is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("questions: [斑马]\n", "not_ours.yaml:1: format: missing (expected `format: deploybot-not-ours/1`"),
        ("format: deploybot-not-ours/1\nquestions: 斑马\n", "not_ours.yaml:2: questions: must be a list"),
        (
            "format: deploybot-not-ours/1\nquestions:\n  - 证书怎么续期\n  - ''\n",
            "not_ours.yaml:4: questions: questions must be non-empty strings",
        ),
        (
            "format: deploybot-not-ours/1\nquestions:\n  - 证书怎么续期\n  - 证书怎么续期\n",
            "not_ours.yaml:4: questions: duplicate question (also on line 3)",
        ),
        (
            "format: deploybot-not-ours/1\nquestions:\n  - 海象队列堆积了\n",
            "not_ours.yaml:3: questions: '海象队列堆积了' is also a question of entry 'walrus-queue-backlog'",
        ),
        ("format: deploybot-not-ours/1\nquestions: [a, b\n", "not_ours.yaml: file: invalid YAML"),
    ],
)
def test_kb_build_names_the_line_of_a_bad_not_ours_list(
    small_base: Settings, text: str, message: str
) -> None:
    assert_build_reports(small_base, "not_ours.yaml", text, message)
    answered = run_cli("ask", "--json", "斑马网关老是超时", env=cli_env(small_base))  # the rest still answers
    assert answered.returncode == 0 and json.loads(answered.stdout)["confident"] is True


def test_one_broken_entry_is_reported_and_the_rest_still_answers(small_base: Settings) -> None:
    (small_base.knowledge_dir / "broken.md").write_text("---\nid: broken\ntitle: [unclosed\n---\n", "utf-8")
    done = run_cli("kb", "build", env=cli_env(small_base))
    assert done.returncode == 1
    assert "knowledge/broken.md: front matter: invalid YAML" in done.stderr
    answered = run_cli("ask", "--json", "海象队列积压怎么办", env=cli_env(small_base))
    assert answered.returncode == 0, answered.stderr
    payload = json.loads(answered.stdout)
    assert payload["confident"] is True
    assert payload["answers"][0]["id"] == "walrus-queue-backlog"


def test_kb_build_flags_example_object_names_in_commands(small_base: Settings) -> None:
    entry = write_entry(small_base.knowledge_dir, "tutorial-names", "教程里的名字", "教程名字")
    entry.write_text(
        entry.read_text(encoding="utf-8").replace(
            "kubectl get events -n <namespace>",
            "kubectl get configmap special-config -n <namespace>\n"
            "   docker pull rosskukulinski/dne:v1.0.0\n"
            "   gcloud compute disks create <disk> --zone us-central1-a",
        ),
        encoding="utf-8",
    )
    done = run_cli("kb", "build", env=cli_env(small_base))
    assert done.returncode == 1
    assert (
        "knowledge/tutorial-names.md: commands: use <placeholders>, not example object names: "
        "special-config, rosskukulinski/dne:v1.0.0, us-central1-a"
    ) in done.stderr


def test_shipped_commands_use_placeholders(kb: KnowledgeBase) -> None:
    from bot.domain.entries import example_names

    assert {e.id: example_names(e) for e in kb.entries() if example_names(e)} == {}


def test_import_defaults_to_the_working_folder_and_keeps_same_named_files_apart(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for team in ("team-a", "team-b"):
        (docs / team).mkdir(parents=True)
        (docs / team / "faq.md").write_text(f"## {team} 网关 502\n先看网关日志,再检查后端 pod。\n", "utf-8")
    (docs / "slides.pptx").write_bytes(b"PK\x03\x04")
    (docs / "empty.md").write_text("no headings here\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYBOT_KNOWLEDGE_DIR"}
    env["DEPLOYBOT_DATA_DIR"] = str(tmp_path / "data")
    script = Path(sys.executable).with_name("deploybot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    done = subprocess.run(
        [*command, "kb", "import", str(docs)], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    drafts = sorted(p.name for p in (work / "knowledge" / "drafts").glob("*.md"))
    assert drafts == ["draft-team-a-faq-1.md", "draft-team-b-faq-1.md"]
    assert "skipped: " in done.stdout and "slides.pptx: unsupported file type '.pptx'" in done.stdout
    assert "empty.md: no headings or questions" in done.stdout
    again = subprocess.run(
        [*command, "kb", "import", str(docs)], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert "0 draft entries" in again.stdout
    assert "draft already exists; not overwritten" in again.stdout
