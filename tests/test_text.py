"""Tokenizing the way people write in Slack: Chinese words, whole error strings, no noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters import kb_files
from bot.domain import text
from bot.domain.synonyms import SynonymTable

REPO = Path(__file__).resolve().parent.parent
#: the shipped table, as the team edits it (knowledge/synonyms.yaml)
TABLE, PROBLEMS = kb_files.load_synonyms(REPO / "knowledge")


def test_the_shipped_synonym_table_loads_cleanly() -> None:
    assert not PROBLEMS
    assert len(TABLE.groups) >= 50


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
    assert concept in TABLE.concepts(text.normalize(raw))


def test_longest_phrase_wins() -> None:
    found = TABLE.concepts(text.normalize("容器一直重启"))
    assert "~crashloop" in found
    assert "~restart" not in found


def test_ascii_phrases_match_whole_words_only() -> None:
    assert "~oom" not in TABLE.concepts("the room is cold")


def test_english_word_forms_meet_the_phrase() -> None:
    assert "~restart" in TABLE.concepts("rebooted the node")
    assert "~cordon" in TABLE.concepts("cordoned node")


def test_a_server_is_not_a_kubernetes_service() -> None:
    found = TABLE.concepts(text.normalize("服务器时间不同步"))
    assert "~service" not in found
    assert "~node" in found


def test_an_undo_word_asks_for_the_other_side_of_a_pair() -> None:
    assert TABLE.asked(TABLE.concepts(text.normalize("节点设为不可调度"))) == {"~cordon"}
    assert TABLE.asked(TABLE.concepts(text.normalize("怎么取消节点不可调度"))) == {"~uncordon"}


def test_recovering_from_a_state_asks_for_the_way_back_and_alone_still_asks_for_recovery() -> None:
    asked = TABLE.asked
    assert asked(TABLE.concepts(text.normalize("节点被设成不可调度了,怎么恢复"))) >= {"~uncordon"}
    assert "~cordon" not in asked(TABLE.concepts(text.normalize("节点被设成不可调度了,怎么恢复")))
    assert asked(TABLE.concepts(text.normalize("节点恢复可调度怎么弄"))) >= {"~uncordon"}
    assert asked(TABLE.concepts(text.normalize("NotReady 怎么恢复"))) >= {"~recover"}
    assert "~prevent" not in asked(TABLE.concepts(text.normalize("NotReady 怎么恢复")))
    unknown = SynonymTable(groups=TABLE.groups, opposites=TABLE.opposites)  # no `restore`: as it was
    assert "~cordon" in unknown.asked(unknown.concepts(text.normalize("节点被设成不可调度了,怎么恢复")))


def test_asking_how_two_things_differ() -> None:
    def compares(question: str) -> bool:
        return TABLE.compares(text.normalize(question))

    assert compares("排空节点和设置不可调度到底啥区别")
    assert compares("LimitRange vs ResourceQuota, what's the difference?")
    assert compares("how do cordon and drain differ")
    # ASCII phrases are whole words: an object name that contains one is no comparison
    assert not compares("kvs-0 一直 pending")
    assert not compares("节点设为不可调度")
    assert not SynonymTable(groups=TABLE.groups).compares("cordon vs drain")  # no `compare`: none
    assert SynonymTable.from_plain(TABLE.to_plain()).compare == TABLE.compare


def test_asking_for_a_value() -> None:
    assert TABLE.asks_quantity(text.normalize("默认的 cpu request 是多少"))
    assert TABLE.asks_quantity(text.normalize("How many pods fit on one node?"))
    assert not TABLE.asks_quantity(text.normalize("怎么给容器配置 cpu request"))
    assert SynonymTable.from_plain(TABLE.to_plain()).quantity == TABLE.quantity


def test_a_table_given_by_the_caller_is_applied_as_is() -> None:
    table = SynonymTable(groups={"zebra": ("斑马", "zebra")})
    assert table.concepts("斑马网关") == ["~zebra"]
    assert table.concepts("zebras") == ["~zebra"]
    assert SynonymTable().concepts("斑马") == []
