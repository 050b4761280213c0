"""Retrieval quality on the shipped knowledge base, measured the way people ask.

- every entry is found first by its own title and by each of its alternative questions;
- a paraphrase set written separately from the entries (tests/data/paraphrases_*.yaml) is
  answered top-1 at >= 95%;
- off-topic questions (tests/data/offtopic.yaml) never come back confident.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge_base import KnowledgeBase
from tests.conftest import DATA, load_yaml

#: 0.95 until issue 12's margin rule: two entries nearly tied are no longer answered confidently
#: ("did you mean" instead). That costs about one point here (0.951 -> 0.942) and cut confidently
#: wrong answers on these sets from 17 to 10.
PARAPHRASE_TARGET = 0.94


def _paraphrases() -> list[dict[str, str]]:
    items: list[dict[str, str]] = []
    for path in sorted(Path(DATA).glob("paraphrases_*.yaml")):
        items.extend(load_yaml(path.name))  # type: ignore[arg-type]
    return items


def test_every_entry_is_found_by_its_title_and_questions(kb: KnowledgeBase) -> None:
    misses = []
    for entry in kb.entries():
        for phrasing in (entry.title, *entry.questions):
            ranking = kb.search(phrasing)
            top = ranking.hits[0].entry_id if ranking.hits else None
            if top != entry.id or not ranking.confident:
                misses.append(f"{entry.id}: {phrasing!r} -> {top} (confident={ranking.confident})")
    assert not misses, "\n".join(misses)


def test_paraphrase_set_is_large_and_points_at_real_entries(kb: KnowledgeBase) -> None:
    items = _paraphrases()
    assert len(items) >= 100
    known = {e.id for e in kb.entries()}
    unknown = sorted({item["id"] for item in items} - known)
    assert not unknown, f"paraphrases point at missing entries: {unknown}"


def test_paraphrases_are_answered_top1(kb: KnowledgeBase) -> None:
    items = _paraphrases()
    misses = []
    for item in items:
        ranking = kb.search(item["q"])
        top = ranking.hits[0].entry_id if ranking.hits else None
        if top != item["id"] or not ranking.confident:
            misses.append(f"{item['q']!r}: expected {item['id']}, got {top} (confident={ranking.confident})")
    accuracy = 1 - len(misses) / len(items)
    print(f"paraphrase top-1 (confident) = {accuracy:.3f} over {len(items)}")
    assert accuracy >= PARAPHRASE_TARGET, f"top-1 {accuracy:.3f} < {PARAPHRASE_TARGET}:\n" + "\n".join(misses)


@pytest.mark.parametrize("question", load_yaml("offtopic.yaml"))  # type: ignore[arg-type]
def test_off_topic_questions_are_not_answered_confidently(kb: KnowledgeBase, question: str) -> None:
    ranking = kb.search(question)
    assert not ranking.confident, f"{question!r} -> {ranking.hits[:1]}"


#: Regression floors for the blind held-out set (measured 0.69 top-1 when it was written; issue 12
#: raised top-1 and confident from 0.525 to 0.583, then to 0.750 with top-1 0.842). Floors, not
#: targets: this set is never tuned on.
HELDOUT_FLOOR = 0.80
HELDOUT_CONFIDENT_FLOOR = 0.70


def test_heldout_questions_report_and_floor(kb: KnowledgeBase) -> None:
    """Written blind to the retrieval code and never used for tuning: the honest number."""
    items: list[dict[str, str]] = load_yaml("heldout.yaml")  # type: ignore[assignment]
    top1 = confident = 0
    for item in items:
        ranking = kb.search(item["q"])
        hit = bool(ranking.hits) and ranking.hits[0].entry_id == item["id"]
        top1 += hit
        confident += hit and ranking.confident
    print(f"held-out: top-1 {top1 / len(items):.3f}, top-1 and confident {confident / len(items):.3f}")
    assert top1 / len(items) >= HELDOUT_FLOOR
    assert confident / len(items) >= HELDOUT_CONFIDENT_FLOOR


@pytest.mark.parametrize(
    ("plain", "with_names"),
    [
        ("ImagePullBackOff", "shop-web ImagePullBackOff"),
        ("一直 CrashLoopBackOff", "order-svc-5c8d7f9b4-6v289 一直 CrashLoopBackOff"),
        ("节点 PLEG is not healthy", "节点 cn-hangzhou.10.0.1.12 PLEG is not healthy"),
        ("configmap not found", "kubectl describe pod shop-web-7d9f8c6b5-x2k8p -n shop: configmap not found"),
        ("configmap not found", 'configmaps "app-config" not found'),
        ("Back-off pulling image", 'Back-off pulling image "registry.example.com/shop/web:v1.4.3"'),
    ],
)
def test_object_names_in_a_question_change_nothing(kb: KnowledgeBase, plain: str, with_names: str) -> None:
    """Workload names, pod hashes, IPs and namespaces say which object, not what went wrong."""
    a, b = kb.search(plain), kb.search(with_names)
    assert a.confident and b.confident
    assert a.hits[0].entry_id == b.hits[0].entry_id
    assert abs(a.hits[0].score - b.hits[0].score) <= 0.1


@pytest.mark.parametrize(
    ("question", "wrong"),
    [
        ("怎么把节点设为不可调度", "node-uncordon"),
        ("how to cordon a node", "node-uncordon"),
        ("维护完了 怎么取消节点的不可调度", "node-cordon"),
        ("如何避免节点 NotReady", "node-not-ready-recovery"),
        ("节点 NotReady 了 怎么恢复", "node-not-ready-prevention"),
        ("云盘卸载不了", "cloud-disk-mount-failed"),
    ],
)
def test_an_entry_that_does_the_opposite_is_never_the_confident_answer(
    kb: KnowledgeBase, question: str, wrong: str
) -> None:
    ranking = kb.search(question)
    assert not (ranking.confident and ranking.hits[0].entry_id == wrong), ranking.hits[:2]
    assert ranking.confident, ranking.hits[:2]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("is rebooting a node safe", "node-reboot"),
        ("nodes rebooted", "node-reboot"),
        ("how to cordn a node", "node-cordon"),
    ],
)
def test_english_word_forms_and_typos(kb: KnowledgeBase, question: str, expected: str) -> None:
    ranking = kb.search(question)
    assert ranking.hits[0].entry_id == expected and ranking.confident, ranking.hits[:2]
