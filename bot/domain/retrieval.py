"""Ranking questions against the knowledge base, and knowing when not to answer.

BM25F over four fields (title, alternative questions, tags, body) with per-field weights,
precomputed into one posting list per term so a query costs a few dictionary lookups per
token. rapidfuzz fixes typos in error strings and rewards near-duplicates of a known
question. Confidence comes from how much of the question the best entry explains
(IDF-weighted coverage), not from the raw score, so it means the same for short and long
questions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from rapidfuzz import fuzz, process

from bot.domain import synonyms, text
from bot.domain.entries import Entry

FIELD_WEIGHTS: dict[str, float] = {"title": 3.0, "questions": 2.0, "tags": 2.0, "body": 1.0}
FIELD_B: dict[str, float] = {"title": 0.3, "questions": 0.5, "tags": 0.3, "body": 0.75}
K1 = 1.2
RERANK_DEPTH = 12
MAX_ANSWERS = 3
#: Confidence thresholds, calibrated on tests/data (paraphrases vs off-topic questions):
#: the best entry must explain enough of the question in its title, questions or tags
#: ("head"), not only somewhere in its body, where everyday words like 流程 or python live.
MIN_HEAD_COVERAGE = 0.2
MIN_HEAD_IDF = 5.0
MIN_COVERAGE = 0.5
MIN_HEAD_COVERAGE_WHEN_COVERED = 0.4
NEAR_DUPLICATE = 88.0
#: Secondary answers must be at least this close to the best one to be shown.
SECONDARY_RATIO = 0.55


def field_texts(entry: Entry) -> dict[str, str]:
    return {
        "title": entry.title,
        "questions": "\n".join(entry.questions),
        "tags": " ".join(entry.tags),
        "body": f"{entry.summary}\n{entry.body}",
    }


def analyze(raw: str, *, limit: int | None = text.MAX_QUERY_CHARS) -> list[str]:
    """Tokens of a text plus the concepts it names: the one analyzer for entries and questions."""
    normalized = text.normalize(raw, limit=limit)
    return synonyms.expand(text.tokenize(normalized, normalized=True), normalized)


@dataclass(frozen=True)
class Index:
    """The compiled base: plain data, so an adapter can store and reload it as is."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    #: term -> ((doc, saturated-ready weighted tf), ...)
    postings: dict[str, tuple[tuple[int, float], ...]]
    idf: dict[str, float]
    #: normalized title and questions of each doc, for near-duplicate matching
    phrasings: tuple[tuple[str, ...], ...]
    #: terms of each doc's title, questions and tags
    head_terms: tuple[frozenset[str], ...]

    @cached_property
    def max_idf(self) -> float:
        return math.log(1 + (len(self.ids) + 0.5) / 0.5)

    @cached_property
    def doc_terms(self) -> tuple[frozenset[str], ...]:
        terms: list[set[str]] = [set() for _ in self.ids]
        for term, posting in self.postings.items():
            for doc, _ in posting:
                terms[doc].add(term)
        return tuple(frozenset(t) for t in terms)

    @cached_property
    def ascii_vocabulary(self) -> tuple[str, ...]:
        return tuple(t for t in self.postings if t.isascii() and len(t) >= 4 and not t.startswith("~"))

    def to_plain(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "titles": list(self.titles),
            "postings": {t: [list(p) for p in ps] for t, ps in self.postings.items()},
            "idf": self.idf,
            "phrasings": [list(p) for p in self.phrasings],
            "head_terms": [sorted(h) for h in self.head_terms],
        }

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Index:
        return cls(
            ids=tuple(data["ids"]),
            titles=tuple(data["titles"]),
            postings={t: tuple((int(d), float(w)) for d, w in ps) for t, ps in data["postings"].items()},
            idf=dict(data["idf"]),
            phrasings=tuple(tuple(p) for p in data["phrasings"]),
            head_terms=tuple(frozenset(h) for h in data["head_terms"]),
        )


def build_index(entries: Sequence[Entry]) -> Index:
    per_doc_fields = [
        {name: analyze(value, limit=None) for name, value in field_texts(e).items()} for e in entries
    ]
    avg_len = {
        name: max(1.0, sum(len(doc[name]) for doc in per_doc_fields) / max(1, len(per_doc_fields)))
        for name in FIELD_WEIGHTS
    }
    weighted: dict[str, list[tuple[int, float]]] = {}
    for doc_index, fields in enumerate(per_doc_fields):
        tf: dict[str, float] = {}
        for name, tokens in fields.items():
            norm = 1 - FIELD_B[name] + FIELD_B[name] * len(tokens) / avg_len[name]
            for term, count in Counter(tokens).items():
                tf[term] = tf.get(term, 0.0) + FIELD_WEIGHTS[name] * count / norm
        for term, value in tf.items():
            weighted.setdefault(term, []).append((doc_index, round(value, 4)))
    n_docs = len(entries)
    idf = {t: math.log(1 + (n_docs - len(ps) + 0.5) / (len(ps) + 0.5)) for t, ps in weighted.items()}
    return Index(
        ids=tuple(e.id for e in entries),
        titles=tuple(e.title for e in entries),
        postings={t: tuple(ps) for t, ps in weighted.items()},
        idf=idf,
        phrasings=tuple(tuple(text.normalize(s) for s in (e.title, *e.questions)) for e in entries),
        head_terms=tuple(frozenset(f["title"] + f["questions"] + f["tags"]) for f in per_doc_fields),
    )


@dataclass(frozen=True)
class Hit:
    entry_id: str
    title: str
    score: float
    coverage: float
    head_coverage: float
    similarity: float


@dataclass(frozen=True)
class Ranking:
    query: str
    confident: bool
    hits: tuple[Hit, ...]


def _correct_typos(index: Index, tokens: list[str]) -> list[str]:
    """Replace unknown error-string tokens (CrashLoopBakOff) by the closest known one."""
    fixed: list[str] = []
    for token in tokens:
        if (
            token in index.postings
            or not token.isascii()
            or len(token) < 5
            or text.looks_like_identifier(token)
        ):
            fixed.append(token)
            continue
        best = process.extractOne(token, index.ascii_vocabulary, scorer=fuzz.ratio, score_cutoff=85)
        if best is None:
            fixed.append(token)
            continue
        fixed.append(best[0])
        fixed.extend(synonyms.concepts(best[0]))
    return fixed


def _similarity(query: str, phrasings: Sequence[str]) -> float:
    best = 0.0
    for phrase in phrasings:
        score = fuzz.ratio(query, phrase)
        if len(phrase) >= 24 and len(query) > len(phrase):
            # A pasted log line that contains a known error message.
            score = max(score, fuzz.partial_ratio(phrase, query) - 5)
        best = max(best, score)
    return best


def search(index: Index, query: str) -> Ranking:
    normalized = text.normalize(query)
    tokens = _correct_typos(index, list(dict.fromkeys(analyze(query))))
    query_terms = list(dict.fromkeys(tokens))
    scores: dict[int, float] = {}
    for term in query_terms:
        posting = index.postings.get(term)
        if not posting:
            continue
        weight = index.idf[term]
        for doc, tf in posting:
            scores[doc] = scores.get(doc, 0.0) + weight * tf / (K1 + tf)
    if not scores:
        return Ranking(query=query, confident=False, hits=_closest_titles(index, normalized))

    units = _evidence_units(index, query_terms)
    total_mass = sum(weight for weight, _ in units) or 1.0
    top = sorted(scores, key=scores.__getitem__, reverse=True)[:RERANK_DEPTH]
    best_bm25 = scores[top[0]]
    candidates: list[tuple[float, Hit]] = []
    for doc in top:
        matched = sum(weight for weight, terms in units if not terms.isdisjoint(index.doc_terms[doc]))
        head_matched = sum(weight for weight, terms in units if not terms.isdisjoint(index.head_terms[doc]))
        similarity = _similarity(normalized, index.phrasings[doc])
        head_coverage = head_matched / total_mass
        combined = scores[doc] / best_bm25 + 0.6 * max(0.0, similarity - 60.0) / 40.0
        hit = Hit(
            entry_id=index.ids[doc],
            title=index.titles[doc],
            score=0.0,
            coverage=round(matched / total_mass, 3),
            head_coverage=round(head_coverage, 3),
            similarity=round(similarity, 1),
        )
        candidates.append((combined, hit))
    candidates.sort(key=lambda c: c[0], reverse=True)
    best_combined, best = candidates[0]
    hits: list[Hit] = []
    for combined, hit in candidates[:MAX_ANSWERS]:
        if hits and combined < SECONDARY_RATIO * best_combined:
            break
        score = min(1.0, 0.4 * hit.coverage + 0.3 * hit.head_coverage + 0.3 * hit.similarity / 100.0)
        hits.append(replace(hit, score=round(score, 3)))
    return Ranking(query=query, confident=is_confident(best, total_mass), hits=tuple(hits))


def _evidence_units(index: Index, query_terms: Sequence[str]) -> list[tuple[float, frozenset[str]]]:
    """What the question says, as weighted units: a word together with the concepts it names alone.

    模板 and ~template are one piece of evidence, not two; a phrase concept (一直重启 ->
    ~crashloop) is its own. Unknown words weigh as much as the rarest known ones, except object
    names (pod hashes, IPs: which object, not what went wrong) and synonym words (their concept
    carries them).
    """
    units: list[tuple[float, frozenset[str]]] = []
    attached: set[str] = set()
    for term in query_terms:
        if term.startswith(synonyms.CONCEPT_PREFIX):
            continue
        named = synonyms.concepts(term)
        if term in index.idf:
            units.append((index.idf[term], frozenset((term, *named))))
            attached.update(named)
        elif not named and not text.looks_like_identifier(term):
            units.append((index.max_idf, frozenset((term,))))
    for term in query_terms:
        if term.startswith(synonyms.CONCEPT_PREFIX) and term not in attached:
            units.append((index.idf.get(term, index.max_idf), frozenset((term,))))
    return units


def is_confident(best: Hit, total_mass: float) -> bool:
    """Whether the best entry answers the question, rather than sharing a few words with it."""
    if best.similarity >= NEAR_DUPLICATE:
        return True
    if best.head_coverage >= MIN_HEAD_COVERAGE and best.head_coverage * total_mass >= MIN_HEAD_IDF:
        return True
    return best.coverage >= MIN_COVERAGE and best.head_coverage >= MIN_HEAD_COVERAGE_WHEN_COVERED


def _closest_titles(index: Index, normalized: str) -> tuple[Hit, ...]:
    """Nothing matched a single word: offer the titles that look most alike, as suggestions only."""
    if not normalized or not index.ids:
        return ()
    best = process.extract(normalized, index.titles, scorer=fuzz.partial_ratio, limit=MAX_ANSWERS)
    return tuple(Hit(index.ids[i], title, 0.0, 0.0, 0.0, round(score, 1)) for title, score, i in best)
