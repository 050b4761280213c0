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

PARAPHRASE_TARGET = 0.95


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


#: Regression floor for the blind held-out set (measured 0.69 top-1 when it was written).
HELDOUT_FLOOR = 0.65


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
