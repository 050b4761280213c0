"""The example-trained second opinion (bot/domain/classifier.py) and how the ranking uses it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.domain import classifier, retrieval
from tests.hand_made import entry


def test_it_learns_the_word_that_tells_two_siblings_apart() -> None:
    cordon = frozenset({"节点", "不可调度", "维护"})
    uncordon = frozenset({"节点", "不可调度", "恢复"})
    model = classifier.train([(cordon, 0), (uncordon, 1), (cordon | {"新"}, 0), (uncordon | {"改回"}, 1)])
    votes = model.scores({"节点", "不可调度", "恢复"})
    assert votes[1] > votes.get(0, 0.0)
    assert model.scores({"节点", "维护"})[0] > model.scores({"节点", "维护"}).get(1, 0.0)


def test_training_is_deterministic_and_survives_the_round_trip() -> None:
    examples = [(frozenset({"a", "b"}), 0), (frozenset({"a", "c"}), 1), (frozenset({"b"}), 0)]
    first, second = classifier.train(examples), classifier.train(examples)
    assert first == second
    assert classifier.Perceptron.from_plain(first.to_plain()) == first
    assert classifier.train([]).scores({"a"}) == {}


def test_the_index_carries_it_and_a_vote_against_an_entry_costs_it_rank() -> None:
    cordon = entry("cordon", "节点设为不可调度", ("维护前不让新 pod 调度上来", "先设为不可调度再维护"))
    uncordon = entry("uncordon", "节点恢复调度", ("维护完了 不可调度 怎么改回去", "不可调度 的节点怎么恢复"))
    index = retrieval.build_index([cordon, uncordon])
    assert index.classifier.weights
    assert retrieval.Index.from_plain(index.to_plain()).classifier == index.classifier
    ranking = retrieval.search(index, "不可调度 维护完了 怎么改回去")
    assert ranking.hits[0].entry_id == "uncordon"


def test_every_process_learns_the_same_weights() -> None:
    """Sets iterate in an order that changes with string hashing (PYTHONHASHSEED): the build must not."""
    program = (
        "from bot.domain import classifier\n"
        "words = [f'w{n}' for n in range(40)]\n"
        "examples = [(frozenset(words[(i * 7 + k * 11) % 40] for k in range(5)), i % 6) for i in range(60)]\n"
        "print(sorted(classifier.train(examples).to_plain().items()))\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(runs) == 1 and runs.pop().startswith("[(")


def test_a_base_too_large_to_train_on_ranks_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "MAX_CLASSES", 1)
    index = retrieval.build_index(
        [entry("a", "节点排空", ("赶走 pod",)), entry("b", "节点重启", ("reboot",))]
    )
    assert index.classifier.weights == {}
    assert retrieval.search(index, "节点排空 赶走 pod").hits[0].entry_id == "a"


GATEWAY = entry(
    "gateway-timeout",
    "网关超时如何处理",
    ("网关老是超时", "网关 504 了怎么办", "请求经过网关就超时", "gateway timeout 504 怎么查"),
    body="网关超时多半是后端太慢:先看后端的响应时间,再调大网关的超时时间。网关的证书和域名配置见网关控制台。",
)
QUEUE = entry(
    "queue-backlog", "队列积压怎么办", ("队列堆积了", "消息队列消费不过来", "queue backlog 怎么处理")
)
NOT_OURS = (
    "网关的证书快过期了怎么续期",
    "网关证书在哪里上传",
    "网关怎么换 https 证书",
    "网关的域名怎么备案",
    "证书过期了浏览器报不安全",
)


def test_questions_that_are_not_ours_teach_it_to_say_so() -> None:
    """Sharing 网关 with an entry is not being about it: the examples of what no entry answers
    outvote the entry, and the ranking gives suggestions instead of a confident answer."""
    question = "网关证书"
    without = retrieval.search(retrieval.build_index([GATEWAY, QUEUE]), question)
    assert without.confident and without.hits[0].entry_id == "gateway-timeout" and not without.not_ours
    index = retrieval.build_index([GATEWAY, QUEUE], not_ours=NOT_OURS)
    ranking = retrieval.search(index, question)
    assert ranking.not_ours and not ranking.confident
    assert ranking.hits[0].entry_id == "gateway-timeout"  # still offered as a suggestion
    answered = retrieval.search(index, "网关一直超时 怎么办")
    assert answered.confident and not answered.not_ours
    assert answered.hits[0].entry_id == "gateway-timeout"
    # trained apart: the entries' own classifier does not change, and both survive the round trip
    assert index.classifier == retrieval.build_index([GATEWAY, QUEUE]).classifier
    assert retrieval.Index.from_plain(index.to_plain()).not_ours == index.not_ours


def test_without_examples_nothing_is_read_as_not_ours() -> None:
    index = retrieval.build_index([GATEWAY, QUEUE])
    assert not index.not_ours.weights
    assert not retrieval.search(index, "网关的证书过期了 怎么续").not_ours
