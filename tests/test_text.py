"""Tokenizing the way people write in Slack: Chinese words, whole error strings, no noise."""

from __future__ import annotations

import pytest

from bot.domain import synonyms, text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CrashLoopBackOff", ["crashloopbackoff"]),
        ("OOMKilled exit 137", ["oomkilled", "exit", "137"]),
        ("port 10250 refused", ["port", "10250", "refused"]),
        ("容器一直重启怎么办", ["容器", "重启"]),
        ("ＣｒａｓｈＬｏｏｐ", ["crashloop"]),  # full-width letters fold
        ("kube-proxy", ["kube-proxy", "kube", "proxy"]),
        ("imagePullPolicy: Always", ["imagepullpolicy", "always"]),
    ],
)
def test_tokenize_keeps_error_strings_whole(raw: str, expected: list[str]) -> None:
    assert text.tokenize(raw) == expected


def test_normalize_strips_control_characters_and_caps_length() -> None:
    assert text.normalize("a\x00b\x1bc\u200bd") == "a b c d"
    assert len(text.normalize("x" * 20_000)) == text.MAX_QUERY_CHARS


@pytest.mark.parametrize("token", ["7d9f8c6b5", "10.142.0.2", "123456789", "a1b2c3d4e5"])
def test_object_names_look_like_identifiers(token: str) -> None:
    assert text.looks_like_identifier(token)


@pytest.mark.parametrize("token", ["10250", "137", "crashloopbackoff", "v1", "2g"])
def test_problem_words_are_not_identifiers(token: str) -> None:
    assert not text.looks_like_identifier(token)


@pytest.mark.parametrize(
    ("raw", "concept"),
    [
        ("pod 一直重启", "~crashloop"),
        ("Back-off restarting failed container", "~crashloop"),
        ("拉镜像失败", "~imagepull"),
        ("ErrImagePull", "~imagepull"),
        ("怎么把环境缩容到0", "~scalezero"),
        ("scale to zero", "~scalezero"),
        ("节点排水", "~drain"),
        ("node drain", "~drain"),
        ("发布单卡住了", "~release"),
        ("release order", "~release"),
    ],
)
def test_synonyms_meet_on_one_concept(raw: str, concept: str) -> None:
    assert concept in synonyms.concepts(text.normalize(raw))


def test_longest_phrase_wins() -> None:
    found = synonyms.concepts(text.normalize("容器一直重启"))
    assert "~crashloop" in found
    assert "~restart" not in found


def test_ascii_phrases_match_whole_words_only() -> None:
    assert "~oom" not in synonyms.concepts("the room is cold")
