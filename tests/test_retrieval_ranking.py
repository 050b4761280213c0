"""What orders the hits, on small hand-made bases (the domain alone, no I/O)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.domain import retrieval
from bot.domain.classifier import Perceptron
from tests.hand_made import entry

# Siblings: one whose title names the SLB, one that says SLB only in its questions and body.
SLB = entry("slb", "SLB 访问不通", ("负载均衡的地址连不上", "外网访问不了服务"), body="检查监听和安全组。")
INGRESS = entry(
    "ingress",
    "Ingress 域名打不开",
    ("通过 SLB 访问 ingress 不通", "slb 访问不通 ingress 返回 404", "ingress controller 没有转发"),
    body="Ingress 的 SLB 由 controller 创建;SLB 正常而 Ingress 规则不对时,SLB 也访问不通。",
)


def _lead(monkeypatch: pytest.MonkeyPatch, title_weight: float) -> float:
    """How far the SLB entry leads its sibling on 不通 slb, with the classifiers silenced."""
    monkeypatch.setattr(retrieval, "W_TITLE", title_weight)
    index = retrieval.build_index([SLB, INGRESS])
    index = dataclasses.replace(index, classifier=Perceptron(), not_ours=Perceptron())
    scores = {h.entry_id: h.score for h in retrieval.search(index, "不通 slb").hits}
    return scores["slb"] - scores["ingress"]


def test_a_word_the_title_names_counts_beyond_the_head(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both heads hold every word of the question; only one title does, and it gains W_TITLE:
    enough to come first, where the sibling that says SLB more often led."""
    weight = retrieval.W_TITLE
    with_title, without = _lead(monkeypatch, weight), _lead(monkeypatch, 0.0)
    assert with_title > 0 > without
    assert with_title - without == pytest.approx(weight, abs=0.002)


def test_title_terms_survive_the_round_trip() -> None:
    index = retrieval.build_index([SLB, INGRESS])
    again = retrieval.Index.from_plain(index.to_plain())
    assert again.title_terms == index.title_terms
    assert "slb" in index.title_terms[0] and "slb" not in index.title_terms[1]


def test_a_fragment_the_segmenter_left_weighs_less_than_a_word_the_base_lacks() -> None:
    """时看 (of 发布时看) is no word anywhere; 超市 is a real word, a topic this base does not cover."""
    events = entry("events", "系统事件在哪看", ("发布过程的事件",))
    index = retrieval.build_index([events, entry("logs", "容器日志", ())])

    def coverage(question: str) -> float:
        return retrieval.search(index, question).hits[0].coverage

    known = coverage("看系统事件")
    with_fragment, with_word = coverage("看系统事件 时看"), coverage("看系统事件 超市")
    assert known == 1.0 > with_fragment > with_word
    # the word weighs as much as the rarest known word; the fragment half of that
    fragment, word = 1 / with_fragment - 1, 1 / with_word - 1  # unexplained, per unit explained
    assert fragment == pytest.approx(retrieval.UNKNOWN_FRAGMENT_WEIGHT * word, rel=0.02)
