"""What a person wants, from the text of a slash command, a mention or a DM. Pure.

`/deploybot inspect shop-prod`, "@deploybot 看看 shop-prod", "what's wrong with shop-prod?",
and in a thread after an inspection, "那怎么回滚?": each becomes one small intent value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process


@dataclass(frozen=True)
class Ask:
    question: str


@dataclass(frozen=True)
class Inspect:
    environment: str


@dataclass(frozen=True)
class Orders:
    environment: str


@dataclass(frozen=True)
class Audit:
    environment: str | None


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Propose:
    """A follow-up naming an action on the environment the thread is about: offer it, with a button."""

    environment: str
    action: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NeedsEnvironment:
    """An environment-bound request without a (known) environment: say which ones exist."""

    verb: str
    given: str


Intent = Ask | Inspect | Orders | Audit | Help | Propose | NeedsEnvironment

INSPECT_WORDS = ("inspect", "env", "诊断", "diagnose", "check", "status")
_INSPECT_PHRASES = re.compile(
    r"看看|看一下|诊断|检查|状态|怎么了|什么情况|inspect|status|diagnose|health|what'?s wrong with|check",
    re.IGNORECASE,
)
#: follow-up verbs -> action id (with params), longest first so 缩容到0 wins over 缩容
_FOLLOW_UPS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        r"缩容到\s*0|缩到\s*0|scale (?:it )?(?:down )?to (?:0|zero)|停掉环境|下线环境",
        "scale",
        (("replicas", "0"),),
    ),
    (r"恢复副本|扩回来|restore", "restore", ()),
    (r"回滚|rollback|roll back|undo", "rollback_order", ()),
    (r"关闭发布单|关掉发布单|close (?:the )?(?:release )?order|abort", "close_order", ()),
    (r"继续发布|恢复发布|resume|promote|继续", "resume_order", ()),
    (r"暂停|pause", "pause_order", ()),
    (r"重试|retry", "retry_failed", ()),
    (r"重启|restart", "restart", ()),
)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def strip_mentions(text: str) -> str:
    return _MENTION.sub(" ", text).strip()


def find_environment(text: str, names: Sequence[str]) -> str | None:
    """An environment named in free text, exactly (as a word) or nearly (shop-prd)."""
    lowered = text.lower()
    exact = [n for n in names if re.search(rf"(?<![\w-]){re.escape(n.lower())}(?![\w-])", lowered)]
    if exact:
        return max(exact, key=len)
    words = re.findall(r"[a-z0-9][a-z0-9-]{2,}", lowered)
    best: tuple[str, float] | None = None
    for word in words:
        found = process.extractOne(word, names, scorer=fuzz.ratio, score_cutoff=85)
        if found and (best is None or found[1] > best[1]):
            best = (found[0], found[1])
    return best[0] if best else None


def parse_command(text: str, names: Sequence[str]) -> Intent:
    """`/deploybot <sub> [args]`: ask|inspect|env|诊断|orders|audit|help; bare text asks."""
    text = text.strip()
    if not text or text.lower() in ("help", "帮助", "?", "-h", "--help"):
        return Help()
    verb, _, rest = text.partition(" ")
    verb_l, rest = verb.lower(), rest.strip()
    if verb_l == "ask":
        return Ask(rest) if rest else Help()
    if verb_l in ("inspect", "env", "诊断", "orders", "发布单"):
        env = _environment_arg(rest, names)
        if env is None:
            return NeedsEnvironment(verb_l, rest)
        return Orders(env) if verb_l in ("orders", "发布单") else Inspect(env)
    if verb_l == "audit":
        if not rest:
            return Audit(None)
        env = _environment_arg(rest, names)
        return Audit(env) if env else NeedsEnvironment(verb_l, rest)
    return Ask(text)


def _environment_arg(rest: str, names: Sequence[str]) -> str | None:
    word = rest.split()[0] if rest.split() else ""
    return word if word in names else None


def route_message(text: str, names: Sequence[str], *, thread_environment: str | None = None) -> Intent:
    """A mention or DM: an environment plus an inspect word inspects; an action word in a thread
    about an environment proposes that action; anything else asks the knowledge base."""
    text = strip_mentions(text)
    if not text:
        return Help()
    if text.split()[0].lower() in ("ask", "inspect", "env", "诊断", "orders", "audit", "help", "发布单"):
        return parse_command(text, names)
    env = find_environment(text, names)
    if env and _INSPECT_PHRASES.search(text):
        return Inspect(env)
    target_env = env or thread_environment
    if target_env:
        for pattern, action, params in _FOLLOW_UPS:
            if re.search(pattern, text, re.IGNORECASE):
                return Propose(target_env, action, params)
    if env and len(text.split()) <= 2:
        return Inspect(env)  # "@deploybot shop-prod" on its own
    return Ask(text)
