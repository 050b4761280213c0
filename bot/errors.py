"""Errors named for what the user should see; the CLI and Slack turn them into plain messages."""

from __future__ import annotations

from collections.abc import Sequence


class DeploybotError(Exception):
    """Base: its message is meant for the person at the keyboard, as is."""

    exit_code = 1


class UsageError(DeploybotError):
    exit_code = 2


class KnowledgeError(DeploybotError):
    """The knowledge base does not validate: every problem names its file and field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        head = f"the knowledge base has {len(self.problems)} problem(s):"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))
