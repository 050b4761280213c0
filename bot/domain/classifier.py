"""Which entry a question is about, learned from the entries' example questions.

BM25 weighs a word by how rare it is in the whole base; siblings (cordon and uncordon, NotReady
causes and recovery) share most of their words, so rarity cannot tell them apart. An averaged
perceptron over the same terms learns what does: which words the examples of one sibling use
and the other's do not (恢复 beside 不可调度). It is a second opinion beside the ranking, trained
at build time, deterministic (fixed order, no randomness), plain data to store.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

EPOCHS = 8
#: Training costs grow with classes times examples (a word shared by thousands of entries is
#: scored for each of them at every step): above this many entries the base ranks without it.
MAX_CLASSES = 2_000
#: (class < 65536, weight) pairs of one term, packed: ~38,000 floats as Python objects took
#: marshal 30 ms to load at every cold start; bytes load at once and a question unpacks only
#: its own terms
_PAIR = struct.Struct("<Hf")


@dataclass(frozen=True)
class Perceptron:
    #: term -> its (class, weight) pairs packed with _PAIR: only classes the term ever moved
    weights: Mapping[str, bytes] = field(default_factory=dict)

    def scores(self, terms: Iterable[str]) -> dict[int, float]:
        totals: dict[int, float] = {}
        for term in sorted(set(terms)):  # a fixed order: the same sums in every process
            for cls, weight in _PAIR.iter_unpack(self.weights.get(term, b"")):
                totals[cls] = totals.get(cls, 0.0) + weight
        return totals

    def to_plain(self) -> Mapping[str, bytes]:
        return self.weights

    @classmethod
    def from_plain(cls, data: Mapping[str, bytes]) -> Perceptron:
        return cls(data)


def train(examples: Sequence[tuple[frozenset[str], int]], epochs: int = EPOCHS) -> Perceptron:
    """Averaged multi-class perceptron: on each mistake the right class gains the example's
    terms and the predicted one loses them; the average over all steps generalizes better
    than the last weights."""
    weights: dict[str, dict[int, float]] = {}
    # sum of weight * time since the last change, for the average (the usual lazy trick)
    totals: dict[str, dict[int, float]] = {}
    stamps: dict[str, dict[int, int]] = {}
    step = 0

    def update(term: str, cls: int, delta: float) -> None:
        w, t, s = weights.setdefault(term, {}), totals.setdefault(term, {}), stamps.setdefault(term, {})
        t[cls] = t.get(cls, 0.0) + (step - s.get(cls, 0)) * w.get(cls, 0.0)
        s[cls] = step
        w[cls] = w.get(cls, 0.0) + delta

    for epoch in range(epochs):
        # a fixed, epoch-dependent shuffle (multiplicative hashing): reproducible builds, and
        # no class's examples all in a row
        order = sorted(range(len(examples)), key=lambda i: (i * 2654435761 + epoch * 40503) % 2**32)
        for unordered, gold in (examples[i] for i in order):
            # sets iterate in an order that changes with each process's string hashing: sort,
            # and break ties between rivals by class number, so every build learns the same
            terms = sorted(unordered)
            step += 1
            scores: dict[int, float] = {}
            for term in terms:
                for cls, weight in weights.get(term, {}).items():
                    scores[cls] = scores.get(cls, 0.0) + weight
            rivals = {c: v for c, v in scores.items() if c != gold}
            rival = max(rivals, key=lambda c: (rivals[c], -c), default=None)
            # a class the terms never moved scores 0: the right one must beat that too
            rival_score = max(rivals.get(rival, 0.0) if rival is not None else 0.0, 0.0)
            if scores.get(gold, 0.0) > rival_score:
                continue
            for term in terms:
                update(term, gold, 1.0)
                if rival is not None and rivals[rival] >= 0.0:
                    update(term, rival, -1.0)
    averaged: dict[str, bytes] = {}
    for term, by_class in weights.items():
        kept = []
        for cls, weight in by_class.items():
            total = totals[term].get(cls, 0.0) + (step - stamps[term].get(cls, 0)) * weight
            if abs(total) > 1e-9:
                kept.append((cls, round(total / step, 5)))
        if kept:
            averaged[term] = b"".join(_PAIR.pack(cls, weight) for cls, weight in kept)
    return Perceptron(averaged)
