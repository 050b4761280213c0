"""When the best entry is confident, on small hand-made bases (the domain alone, no I/O).

Three ways a lexical match can be confidently wrong, each with its guard:
- the question is about a topic the base leaves to others (git, Redis) and merely shares a word
  with an entry (`elsewhere` in the synonym table);
- the entry only mentions the question's words in one of its many questions (anchoring);
- two entries are nearly tied (the margin): "did you mean" beats a coin toss.
"""

from __future__ import annotations

import dataclasses

from bot.domain import retrieval
from bot.domain.classifier import Perceptron
from bot.domain.synonyms import SynonymTable
from tests.hand_made import entry

STALE = entry(
    "stale-image",
    "重新推送同一个镜像 tag 后 Pod 仍在跑旧镜像",
    (
        "推了同一个 tag 节点还在用旧镜像",
        "imagePullPolicy IfNotPresent 没拉新镜像",
        "镜像 tag 用 git commit id 行吗",
    ),
    tags=("imagePullPolicy", "commit id"),
    body="每次构建用唯一 tag,例如 git rev-parse --short HEAD 的结果。",
)
TABLE = SynonymTable(groups={"git": ("git", "merge conflict", "合并冲突")}, elsewhere=frozenset({"git"}))


def test_a_topic_left_to_others_is_not_answered_by_an_entry_that_only_mentions_it() -> None:
    index = retrieval.build_index([STALE], TABLE)
    ranking = retrieval.search(index, "how do I undo a git commit")
    assert ranking.hits and ranking.hits[0].entry_id == "stale-image"
    assert ranking.hits[0].outside and not ranking.confident
    # the flag comes from the table's `elsewhere`, not from the words themselves
    plain = retrieval.build_index([STALE], SynonymTable(groups=TABLE.groups))
    assert retrieval.search(plain, "how do I undo a git commit").hits[0].outside is False


def test_an_entry_about_the_topic_still_answers_it() -> None:
    git_entry = entry(
        "git-merge", "git 合并冲突怎么解决", ("merge conflict 怎么处理", "git rebase 冲突"), tags=("git",)
    )
    index = retrieval.build_index([STALE, git_entry], TABLE)
    ranking = retrieval.search(index, "git 合并冲突了 怎么办")
    assert ranking.hits[0].entry_id == "git-merge" and ranking.confident


def test_an_entrys_own_question_that_names_the_topic_is_still_its_answer() -> None:
    index = retrieval.build_index([STALE], TABLE)
    assert retrieval.search(index, "镜像 tag 用 git commit id 行吗").confident


def test_a_word_only_one_question_uses_does_not_anchor_an_entry() -> None:
    index = retrieval.build_index([STALE], TABLE)
    anchors = index.anchors[0]
    assert anchors["imagepullpolicy"] == 1.0  # a tag
    assert anchors["commit"] == 1.0  # "commit id" is a tag
    assert "ifnotpresent" not in anchors  # one question of three: an example's word, not the entry's
    twice = retrieval.build_index([entry("slow", "镜像很大", ("拉取很慢", "拉取超时"))]).anchors[0]
    assert 0 < twice["拉取"] < 1.0  # two questions: it says a little about what the entry is for
    assert retrieval.Index.from_plain(index.to_plain()).anchors == index.anchors


def test_two_entries_nearly_tied_are_not_a_confident_answer() -> None:
    cordon = entry("cordon", "节点设为不可调度", ("不想让新 pod 调度到这台机器", "节点维护前先处理"))
    drain = entry("drain", "节点排空 pod", ("把 pod 从这台机器赶走", "节点维护前先处理"))
    # the margin guard alone: two examples each is too few for the classifier's vote to mean much
    index = dataclasses.replace(retrieval.build_index([cordon, drain]), classifier=Perceptron())
    tied = retrieval.search(index, "节点维护前 这台机器怎么处理")
    assert {h.entry_id for h in tied.hits[:2]} == {"cordon", "drain"}
    assert abs(tied.hits[0].score - tied.hits[1].score) < retrieval.MIN_MARGIN
    assert not tied.confident
    clear = retrieval.search(index, "把 pod 从这台机器赶走")
    assert clear.hits[0].entry_id == "drain" and clear.confident


def test_a_tie_is_the_answer_when_the_question_asks_how_the_two_differ() -> None:
    asked = ("节点维护前先处理", "和另一种处理有啥区别")
    cordon = entry("cordon", "节点设为不可调度", ("不想让新 pod 调度到这台机器", *asked))
    drain = entry("drain", "节点排空 pod", ("把 pod 从这台机器赶走", *asked))
    table = SynonymTable(compare=("区别",))
    index = dataclasses.replace(retrieval.build_index([cordon, drain], table), classifier=Perceptron())
    plain, comparing = "节点维护前 这台机器怎么处理", "节点维护前 这台机器的处理有啥区别"
    for question, compares in ((plain, False), (comparing, True)):
        ranking = retrieval.search(index, question)
        assert {h.entry_id for h in ranking.hits[:2]} == {"cordon", "drain"}  # both shown
        assert abs(ranking.hits[0].score - ranking.hits[1].score) < retrieval.MIN_MARGIN
        assert ranking.confident is compares


def test_naming_a_topic_left_to_others_is_fine_when_the_entry_answers_the_rest() -> None:
    """ "The probe fails because mysql is down" names mysql and is still a probe question."""
    index = retrieval.build_index([STALE], TABLE)
    ranking = retrieval.search(index, "推了同一个 tag 节点还在用旧镜像 tag 是 git 打的")
    best = ranking.hits[0]
    assert best.outside and best.score >= retrieval.OUTSIDE_SCORE
    assert best.similarity < retrieval.NEAR_DUPLICATE  # confident by the rule, not as a copy
    assert best.head_coverage >= retrieval.MIN_HEAD_COVERAGE_WHEN_OUTSIDE
    assert ranking.confident
    weaker = dataclasses.replace(best, score=retrieval.OUTSIDE_SCORE - 0.01)
    assert not retrieval.is_confident(weaker, total_mass=20.0)
    thinner = dataclasses.replace(best, head_coverage=retrieval.MIN_HEAD_COVERAGE_WHEN_OUTSIDE - 0.01)
    assert not retrieval.is_confident(thinner, total_mass=20.0)


def test_a_question_of_one_word_is_answered_only_by_an_entry_about_that_word() -> None:
    """不行 in a few of an entry's examples is no reason to answer a bare 不行; its title word is."""
    exec_fails = entry(
        "exec-fails",
        "kubectl exec 失败",
        ("kubectl get 可以 exec 不行", "logs 不行 get 可以", "进容器不行", "exec 报 10250 超时"),
    )
    other = entry("disk", "云盘挂载失败", ("云盘挂不上", "pvc 一直 pending"))
    index = dataclasses.replace(retrieval.build_index([exec_fails, other]), not_ours=Perceptron())
    bare = retrieval.search(index, "不行")
    assert bare.hits[0].entry_id == "exec-fails" and 0 < bare.hits[0].anchored < 1.0
    assert not bare.confident
    assert retrieval.is_confident(bare.hits[0], total_mass=5.0)  # only because it says one thing
    named = retrieval.search(index, "exec")
    assert named.hits[0].entry_id == "exec-fails" and named.hits[0].anchored == 1.0 and named.confident
