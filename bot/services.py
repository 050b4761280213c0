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


@dataclass(frozen=True)
class AskResult:
    query: str
    confident: bool
    answers: tuple[Answer, ...]
    truncated: bool = False


def ask(kb: KnowledgeBase, question: str) -> AskResult:
    """Best answers first; when not confident, `answers` are the closest topics, offered as such."""
    if not text.normalize(question):
        raise UsageError('the question is empty: ask something like `deploybot ask "容器一直重启怎么办"`')
    ranking = kb.search(question)
    answers = []
    for hit in ranking.hits:
        entry = kb.entry(hit.entry_id)
        if entry is not None:
            answers.append(Answer(entry=entry, score=hit.score))
    return AskResult(
        query=text.clean(question[: 4 * text.MAX_QUERY_CHARS]),
        confident=ranking.confident,
        answers=tuple(answers),
        truncated=len(question) > text.MAX_QUERY_CHARS,
    )
