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


class ConfigError(DeploybotError):
    """deploybot.yaml is missing or invalid: every problem names the file, environment and field."""

    exit_code = 2

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            super().__init__(f"bad config: {self.problems[0]}")
        else:
            super().__init__("\n".join(["bad config:", *(f"  - {p}" for p in self.problems)]))


class UnknownEnvironment(DeploybotError):
    exit_code = 2

    def __init__(self, name: str, suggestions: Sequence[str], known: Sequence[str]) -> None:
        self.name, self.suggestions = name, list(suggestions)
        hint = (
            f"did you mean {', '.join(self.suggestions)}?"
            if self.suggestions
            else f"known: {', '.join(known) if known else 'none (add environments to deploybot.yaml)'}"
        )
        super().__init__(f"no such environment: {name!r}; {hint}")


class ClusterError(DeploybotError):
    """The Kubernetes API could not answer; the message says what to do about it."""


class ClusterUnreachable(ClusterError):
    pass


class ClusterForbidden(ClusterError):
    pass


class ClusterUnauthorized(ClusterError):
    pass


class ClusterNotFound(ClusterError):
    """404: the object (or its namespace) does not exist."""


class ClusterConflict(ClusterError):
    """409: the object exists already, or changed since it was read (optimistic concurrency)."""


class Refused(DeploybotError):
    """The action was not run: not allowed, stale, already done, or not applicable."""

    exit_code = 3


class NotAllowed(Refused):
    pass


class Stale(Refused):
    pass


class AlreadyDone(Refused):
    pass


class ActionFailed(DeploybotError):
    """The cluster refused or failed the change; nothing else was changed after the failing call."""


class StateError(DeploybotError):
    """The state database (audit, idempotency keys, feedback) cannot be opened or written."""
