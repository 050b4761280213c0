"""Applying a synonym table: the many ways people name one thing, in Chinese and English.

The table itself is data a team edits next to its entries (`knowledge/synonyms.yaml`, read by
`bot.adapters.kb_files`); this module only applies a table it is given. A phrase found in a text
adds its concept token (`~crashloop`) to the text's tokens, on both sides: entries when the index
is built, questions when they are asked. So "pod 一直重启" and "CrashLoopBackOff" meet on
`~crashloop` whatever words either side used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

CONCEPT_PREFIX = "~"
#: English endings an ASCII phrase also matches with: reboot -> rebooting, cordon -> cordoned.
_ENGLISH_ENDINGS = ("ing", "es", "ed", "s", "d")


def _is_word_char(char: str) -> bool:
    return ("a" <= char <= "z") or ("0" <= char <= "9")


#: Texts up to this long (words, not documents) have their concepts remembered, this many.
_MEMO_LENGTH = 32
_MEMO_SIZE = 50_000


@dataclass(frozen=True)
class SynonymTable:
    """Concept -> phrases (already normalized), opposite concept pairs, and words kept whole."""

    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: pairs of concepts that undo each other (cordon / uncordon, pause / resume)
    opposites: tuple[tuple[str, str], ...] = ()
    #: words whose parts are not read on their own: 服务器 is a server, not a Service (服务)
    whole: tuple[str, ...] = ()
    #: the concept that, beside one side of a pair, asks for the other (取消 + 不可调度: uncordon)
    negation: str = ""
    #: phrases that ask how two things differ (区别, vs): two siblings nearly tied is then what
    #: was asked about, not a ranking that cannot decide. Not a concept: nothing is indexed by them
    compare: tuple[str, ...] = ()
    #: phrases that ask for a value (多少, 默认是, how many): the answer's sentence with a number
    #: is the one to show. Matched only, like `compare`
    quantity: tuple[str, ...] = ()
    #: concept -> the states (pair sides) it asks the way back from: 被设成不可调度了 + 怎么恢复
    #: asks for uncordon, though 恢复 alone asks for recovery and 恢复可调度 for uncordon as well
    restore: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: everyday words that say nothing about the problem (还有, 太多, 以上), dropped on both sides
    ignore: frozenset[str] = frozenset()
    #: concepts of topics the base leaves to others (git, Redis, HTTPS certificates): only an
    #: entry about one of them may answer a question that names it
    elsewhere: frozenset[str] = frozenset()

    @cached_property
    def ascii_phrase_words(self) -> frozenset[str]:
        """Words of English phrases (re-enable of "re-enable scheduling"): words, never object names."""
        return frozenset(w for group in self.groups.values() for p in group if p.isascii() for w in p.split())

    @cached_property
    def _matcher(self) -> tuple[dict[str, tuple[int, ...]], dict[str, list[str]]]:
        """First character -> phrase lengths (longest first), and phrase -> concepts.

        A dictionary scan rather than one big regular expression: compiling a thousand
        alternatives costs more than a cold `deploybot ask` may spend.
        """
        # A phrase may name several concepts: 恢复 is both resuming an order and recovering a node.
        phrase_to_concepts: dict[str, list[str]] = {}
        for concept, phrases in self.groups.items():
            for phrase in phrases:
                phrase_to_concepts.setdefault(phrase, []).append(concept)
        lengths: dict[str, set[int]] = {}
        for phrase in phrase_to_concepts:
            lengths.setdefault(phrase[0], set()).add(len(phrase))
        return {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}, phrase_to_concepts

    def _scan(self, text: str) -> list[tuple[str, str]]:
        """(phrase, as written) found left to right; the longest phrase wins at a position (一直重启
        before 重启); ASCII phrases match whole words, also with -s/-es/-ed/-ing endings."""
        by_first, phrase_to_concepts = self._matcher
        found: list[tuple[str, str]] = []
        i, end = 0, len(text)
        while i < end:
            lengths = by_first.get(text[i])
            matched = 0
            if lengths:
                for length in lengths:
                    phrase = text[i : i + length]
                    if len(phrase) < length or phrase not in phrase_to_concepts:
                        continue
                    if phrase.isascii():
                        if i and _is_word_char(text[i - 1]):
                            break  # inside a word: no phrase starts here
                        stop = i + length
                        ending = next(
                            (
                                e
                                for e in (*_ENGLISH_ENDINGS, "")
                                if text.startswith(e, stop)
                                and (stop + len(e) >= end or not _is_word_char(text[stop + len(e)]))
                            ),
                            None,
                        )
                        if ending is None:
                            continue
                        matched = length + len(ending)
                    else:
                        matched = length
                    found.append((phrase, text[i : i + matched]))
                    break
            i += matched or 1
        return found

    @cached_property
    def opposite(self) -> dict[str, frozenset[str]]:
        """Concept token -> the concept tokens that undo it."""
        pairs: dict[str, set[str]] = {}
        for a, b in self.opposites:
            pairs.setdefault(CONCEPT_PREFIX + a, set()).add(CONCEPT_PREFIX + b)
            pairs.setdefault(CONCEPT_PREFIX + b, set()).add(CONCEPT_PREFIX + a)
        return {k: frozenset(v) for k, v in pairs.items()}

    def asked(self, concepts: Iterable[str]) -> set[str]:
        """The sides of opposite pairs a text asks for: 不可调度 asks cordon, 取消不可调度 uncordon."""
        named = set(concepts)
        negated = bool(self.negation) and CONCEPT_PREFIX + self.negation in named
        restored = {
            CONCEPT_PREFIX + state
            for concept, states in self.restore.items()
            if CONCEPT_PREFIX + concept in named
            for state in states
        }
        sides: set[str] = set()
        for concept in named:
            others = self.opposite.get(concept, frozenset())
            if not others or not others.isdisjoint(named):
                continue  # not part of a pair, or both sides named: no side is asked for
            sides.update(others if negated or concept in restored else {concept})
        return sides

    def compares(self, normalized_text: str) -> bool:
        """Whether an already-normalized text asks how two things differ (排空和不可调度有啥区别)."""
        return _finds(self._compare_pattern, normalized_text)

    def asks_quantity(self, normalized_text: str) -> bool:
        """Whether an already-normalized text asks for a value (默认的 cpu request 是多少)."""
        return _finds(self._quantity_pattern, normalized_text)

    @cached_property
    def _compare_pattern(self) -> re.Pattern[str] | None:
        return _phrase_pattern(self.compare)

    @cached_property
    def _quantity_pattern(self) -> re.Pattern[str] | None:
        return _phrase_pattern(self.quantity)

    def elsewhere_tokens(self, terms: Iterable[str]) -> list[str]:
        """The concept tokens among `terms` that name a topic left to others."""
        return [t for t in terms if t.startswith(CONCEPT_PREFIX) and t[1:] in self.elsewhere]

    def concepts(self, normalized_text: str) -> list[str]:
        """Concept tokens named in an already-normalized text, each once, in order of appearance."""
        if len(normalized_text) > _MEMO_LENGTH:
            return self._concepts(normalized_text)
        memo = self._concept_memo
        if normalized_text not in memo:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[normalized_text] = tuple(self._concepts(normalized_text))
        return list(memo[normalized_text])

    @cached_property
    def _concept_memo(self) -> dict[str, tuple[str, ...]]:
        """Single words are looked up again and again (each query term): their concepts, remembered."""
        return {}

    def _concepts(self, normalized_text: str) -> list[str]:
        _, phrase_to_concepts = self._matcher
        found: list[str] = []
        for phrase, _ in self._scan(normalized_text):
            for concept in phrase_to_concepts[phrase]:
                token = CONCEPT_PREFIX + concept
                if token not in found:
                    found.append(token)
        return found

    def phrases(self, normalized_text: str) -> list[str]:
        """The phrases of the table found in a normalized text (as written there)."""
        return [written for _, written in self._scan(normalized_text)]

    def expand(self, tokens: Iterable[str], normalized_text: str) -> list[str]:
        """Tokens plus the concepts the text names."""
        return [*tokens, *self.concepts(normalized_text)]

    def to_plain(self) -> dict[str, Any]:
        return {
            "groups": {k: list(v) for k, v in self.groups.items()},
            "opposites": [list(p) for p in self.opposites],
            "whole": list(self.whole),
            "negation": self.negation,
            "compare": list(self.compare),
            "quantity": list(self.quantity),
            "restore": {k: sorted(v) for k, v in self.restore.items()},
            "ignore": sorted(self.ignore),
            "elsewhere": sorted(self.elsewhere),
        }

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> SynonymTable:
        return cls(
            groups={str(k): tuple(v) for k, v in data.get("groups", {}).items()},
            opposites=tuple((str(a), str(b)) for a, b in data.get("opposites", ())),
            whole=tuple(data.get("whole", ())),
            negation=str(data.get("negation", "")),
            compare=tuple(data.get("compare", ())),
            quantity=tuple(data.get("quantity", ())),
            restore={str(k): frozenset(v) for k, v in data.get("restore", {}).items()},
            ignore=frozenset(data.get("ignore", ())),
            elsewhere=frozenset(data.get("elsewhere", ())),
        )


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """Any of the phrases; an ASCII one as a whole word, also with -s/-es/-ed/-ing."""
    parts = [
        rf"(?<![a-z0-9]){re.escape(p)}(?:s|es|ed|ing)?(?![a-z0-9])" if p.isascii() else re.escape(p)
        for p in sorted(phrases, key=len, reverse=True)
    ]
    return re.compile("|".join(parts)) if parts else None


def _finds(pattern: re.Pattern[str] | None, normalized_text: str) -> bool:
    return pattern is not None and pattern.search(normalized_text) is not None


EMPTY = SynonymTable()
