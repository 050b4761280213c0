"""Entry files: every malformed field is reported with its file and field name."""

from __future__ import annotations

import pytest

from bot.domain.entries import EntryError, parse_entry, validate_base

GOOD = """---
id: sample-entry
title: 示例:容器一直重启
summary: 看上一个容器的日志。
questions: [pod 一直重启, container keeps restarting, 'Back-off restarting failed container']
tags: [CrashLoopBackOff, 重启]
source: k8s-pod-deploy-failures
findings: [CrashLoop]
---

## 现象
Pod 状态是 CrashLoopBackOff。

## 原因
进程启动后退出。

## 处理步骤
1. 看日志:
   ```bash
   kubectl logs <pod> --previous
   ```
"""


def test_parse_good_entry() -> None:
    entry = parse_entry(GOOD, origin="k/sample.md")
    assert entry.id == "sample-entry"
    assert entry.questions[2] == "Back-off restarting failed container"
    assert entry.findings == ("CrashLoop",)
    assert "--previous" in entry.steps
    assert entry.sources == ("k8s-pod-deploy-failures",)


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (lambda t: t.replace("id: sample-entry\n", ""), "id", "missing"),
        (lambda t: t.replace("id: sample-entry", "id: Sample Entry"), "id", "kebab-case"),
        (lambda t: t.replace("title: 示例:容器一直重启\n", ""), "title", "missing"),
        (lambda t: t.replace("summary: 看上一个容器的日志。\n", ""), "summary", "missing"),
        (
            lambda t: t.replace("[CrashLoop]", "[CrashLooping]"),
            "findings",
            "unknown finding code 'CrashLooping'",
        ),
        (
            lambda t: t.replace("questions: [", "questions: {").replace("container']", "container'}"),
            "questions",
            "list",
        ),
        (lambda t: t.replace("## 原因", "## 背景"), "## 原因", "missing or empty section"),
        (lambda t: t.replace("tags:", "tagz:"), "tagz", "unknown field"),
        (lambda t: t.replace("---\nid", "id", 1), "front matter", "must start with"),
        (lambda t: t.replace("source: k8s", "source: [k8s"), "front matter", "invalid YAML"),
    ],
)
def test_malformed_entries_name_file_and_field(edit: object, field: str, problem: str) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(edit(GOOD), origin="k/sample.md")  # type: ignore[operator]
    assert caught.value.origin == "k/sample.md"
    assert caught.value.field_name == field
    assert problem in str(caught.value)


def test_draft_needs_only_id_and_title() -> None:
    entry = parse_entry("---\nid: draft-x-1\ntitle: X\ndraft: true\n---\n原文", origin="d.md")
    assert entry.draft


def test_duplicate_ids_and_broken_links_are_reported() -> None:
    a = parse_entry(GOOD, origin="a.md")
    b = parse_entry(GOOD.replace("findings:", "related: [nowhere]\nfindings:"), origin="b.md")
    problems = [str(p) for p in validate_base([a, b])]
    assert "b.md: id: duplicate id 'sample-entry', also in a.md" in problems
    assert "b.md: related: links to unknown entry 'nowhere'" in problems
