"""The ask use case: a question in, ranked answers out. Kept free of the Kubernetes adapter and
diagnosis so `deploybot ask` imports nothing it does not use (see bot/inspection.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import text
from bot.domain.entries import Entry
from bot.errors import UsageError
from bot.knowledge_base import KnowledgeBase


@dataclass(frozen=True)
class Answer:
    entry: Entry
    score: float
    #: the entry's sentence that answers the question, when it is not in the printed answer
    evidence: str = ""


@dataclass(frozen=True)
class AskResult:
    query: str
    confident: bool
    answers: tuple[Answer, ...]
    truncated: bool = False
    #: entries related to the best answer: the others ranked that it links to, then its links
    related: tuple[Entry, ...] = ()
    #: it reads like the questions no entry answers (knowledge/not_ours.yaml)
    not_ours: bool = False


MAX_RELATED = 3


def ask(kb: KnowledgeBase, question: str) -> AskResult:
    """Best answers first; when not confident, `answers` are the closest topics, offered as such."""
    if not text.normalize(question):
        raise UsageError('the question is empty: ask something like `deploybot ask "容器一直重启怎么办"`')
    ranking = kb.search(question)
    answers: list[Answer] = []
    for hit in ranking.hits:
        entry = kb.entry(hit.entry_id)
        if entry is None:
            continue
        wanted = not answers and ranking.confident
        found = kb.evidence(entry, ranking.terms, quantity=ranking.asks_quantity) if wanted else ""
        answers.append(Answer(entry=entry, score=hit.score, evidence=found))
    return AskResult(
        query=text.clean(question[: 4 * text.MAX_QUERY_CHARS]),
        confident=ranking.confident,
        answers=tuple(answers),
        truncated=len(question) > text.MAX_QUERY_CHARS,
        related=_related(kb, answers),
        not_ours=ranking.not_ours,
    )


def _related(kb: KnowledgeBase, answers: list[Answer]) -> tuple[Entry, ...]:
    """What to show as related: ranked answers the best one links to first, then its other links."""
    if not answers:
        return ()
    best = answers[0].entry
    linked = [a.entry for a in answers[1:] if a.entry.id in best.related]
    for entry_id in best.related:
        if len(linked) >= MAX_RELATED:
            break
        if all(e.id != entry_id for e in linked):
            entry = kb.entry(entry_id)
            if entry is not None and not entry.draft:
                linked.append(entry)
    return tuple(linked[:MAX_RELATED])
