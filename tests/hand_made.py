"""Entries made by hand for tests of the pure core: only what ranking reads is filled in."""

from __future__ import annotations

from bot.domain.entries import Entry


def entry(
    entry_id: str, title: str, questions: tuple[str, ...], tags: tuple[str, ...] = (), body: str = ""
) -> Entry:
    return Entry(
        id=entry_id,
        title=title,
        summary=title,
        questions=questions,
        tags=tags,
        sources=("test",),
        findings=(),
        related=(),
        sections={"原因": body or title},
    )
