"""Chinese typos by sound (bot/domain/homophones.py), on the shipped base and on a tiny one."""

from __future__ import annotations

import pytest

from bot.domain import homophones, retrieval, text
from bot.knowledge_base import KnowledgeBase


def _correct(words: list[str], question: str) -> str:
    table = homophones.build(words)
    known = set(words)
    return table.correct(text.normalize(question), lambda w: w in known or text.is_dictionary_word(w))


def test_a_window_that_is_no_word_but_sounds_like_a_known_one_is_read_as_it() -> None:
    assert _correct(["不可调度", "健康检查"], "节点被设成不可掉度了") == "节点被设成不可调度了"
    assert _correct(["不可调度", "健康检查"], "健康坚查不通过") == "健康检查不通过"


def test_real_words_and_windows_that_cut_a_word_are_left_alone() -> None:
    # 服务启|动 sounds like 服务器 but ends inside 启动; 可以直|接 like 可移植 inside 直接
    assert _correct(["服务器", "可移植"], "服务启动慢 可以直接重启吗") == "服务启动慢 可以直接重启吗"
    # a word and a stray character (默认 + 只) is likelier than a typo of 默认值
    assert _correct(["默认值"], "控制台默认只安装两个组件") == "控制台默认只安装两个组件"
    # a real word is never changed, however it sounds: 一直 is not a typo of 一致
    assert _correct(["一致重启"], "一直重启") == "一直重启"


def test_two_characters_are_read_as_a_word_of_the_base_or_a_curated_term() -> None:
    def known(word: str) -> bool:
        return text.is_dictionary_word(word)

    table = homophones.build(["一致", "驱动"], terms=["排空", "挂载"])
    assert table.correct("怎么拍空一个节点", known) == "怎么排空一个节点"
    assert table.correct("存储驱东的日志", known) == "存储驱动的日志"
    # a real word is never a typo of another that sounds the same: 一直 and 一只 stay
    assert table.correct("一直", known) == "一直"
    assert table.correct("一只", known) == "一只"
    # a character and a particle: 挂在 is "hangs on", not a typo of 挂载
    assert table.correct("盘还挂在节点上", known) == "盘还挂在节点上"


def test_without_a_table_nothing_changes() -> None:
    assert homophones.NO_HOMOPHONES.correct("不可掉度", lambda w: False) == "不可掉度"


def test_the_table_survives_the_index_round_trip() -> None:
    index = retrieval.build_index([])
    assert retrieval.Index.from_plain(index.to_plain()).homophones == index.homophones
    assert len(homophones.common_characters()) == 6763


@pytest.mark.parametrize(
    ("typo", "right"),
    [("怎么把节点设为不可掉度", "怎么把节点设为不可调度"), ("健康简查一直失败", "健康检查一直失败")],
)
def test_a_homophone_typo_gets_the_answer_the_right_words_get(
    kb: KnowledgeBase, typo: str, right: str
) -> None:
    a, b = kb.search(typo), kb.search(right)
    assert a.terms == b.terms
    assert a.hits[0].entry_id == b.hits[0].entry_id and a.confident == b.confident
