"""Ranking questions against the knowledge base, and knowing when not to answer.

Two channels feed one BM25F ranking over four fields (title, alternative questions, tags,
body): words (rjieba for Chinese, whole error strings plus their parts for ASCII, light English
stemming so rebooting meets reboot) with the concepts of the team's synonym table, and Chinese
character bigrams, at a lower weight, so a compound nobody segmented or listed (共享盘, 缩回)
still meets the entries that contain its characters. Object names in a question (pod hashes,
workload names like `order-svc`, IPs, namespaces) are dropped first: they say which object,
not what went wrong.

The ranking key is one score per entry in [0, 1]: how much of the question the entry explains
(IDF-weighted coverage, in the whole entry and in its title, questions and tags), its BM25F
relative to the best, and phrase similarity to its title and questions (rapidfuzz). An entry
whose title does the opposite of what is asked (uncordon for cordon, recover for prevent) is
pushed down and never confident. Confidence asks whether the best entry explains the question
in its title, questions or tags, not only shares a few everyday words with its body.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rapidfuzz import fuzz, process

from bot.domain import classifier, homophones, text
from bot.domain.classifier import Perceptron
from bot.domain.entries import Entry
from bot.domain.homophones import NO_HOMOPHONES, Homophones
from bot.domain.synonyms import CONCEPT_PREFIX, EMPTY, SynonymTable

FIELD_WEIGHTS: dict[str, float] = {"title": 3.0, "questions": 2.0, "tags": 2.0, "body": 1.0}
FIELD_B: dict[str, float] = {"title": 0.3, "questions": 0.5, "tags": 0.3, "body": 0.75}
K1 = 1.2
#: Character bigrams count this much of a word match in BM25F.
BIGRAM_WEIGHT = 0.35
BIGRAM_PREFIX = "^"
RERANK_DEPTH = 16
#: ...of which this many are also matched against pasted log lines (see _similarity).
PASTE_DEPTH = 3
MAX_ANSWERS = 3
#: Weights of the ranking key. The title counts twice, once in the head (title, questions, tags)
#: and once alone: it is the one line written to say what the entry is for, where siblings
#: differ (SLB vs Ingress unreachable, PLEG vs NotReady causes); a word shared with one of
#: its many questions says less.
W_BM25, W_COVERAGE, W_HEAD, W_TITLE, W_SIMILARITY = 0.55, 0.1, 0.14, 0.08, 0.2
W_VOTE = 0.15
#: Confidence thresholds, calibrated on tests/data (paraphrases, entries' own questions vs
#: off-topic questions): the best entry must explain enough of the question in its title,
#: questions or tags ("head"), not only somewhere in its body, where everyday words live.
MIN_SCORE = 0.6
MIN_HEAD_COVERAGE = 0.2
MIN_HEAD_IDF = 5.0
MIN_COVERAGE = 0.5
MIN_HEAD_COVERAGE_WHEN_COVERED = 0.4
NEAR_DUPLICATE = 88.0
#: The best entry must lead the next by this much of the ranking key: two siblings nearly tied
#: (drain and cordon, causes and recovery) is a question the ranking cannot settle.
MIN_MARGIN = 0.03
#: A word in the title or tags anchors an entry; one in its questions anchors it in proportion to
#: how many of them use it, up to this many. A word only one question happens to use (电脑 in
#: "本地电脑连不上 service") says little about what the entry is for.
ANCHOR_QUESTIONS = 8
#: ...and not at all when only one question uses it.
MIN_ASKED_IN = 2
#: The share of the question (IDF) the best entry must anchor to be confident.
MIN_ANCHORED = 0.05
#: ...and all of it when the question says one thing only (不行, 收到): its title or tags must
#: name it (or most of its questions use it), or a single everyday word finds an entry that
#: happens to use it in a few examples (kubectl exec 不行)
MIN_ANCHORED_WHEN_ALONE = 1.0
#: A ranking key this high, with some of the question in the entry's head, is confident by itself.
CONFIDENT_SCORE = 0.72
#: A question that names a field the base does not cover (mysql, VPN) is confident only with a
#: key of OUTSIDE_SCORE and this much of it in the entry's head: the probe is failing *because*
#: mysql is down. (What merely sounds near is caught by the not-ours examples, not by this.)
OUTSIDE_SCORE = 0.69
MIN_HEAD_COVERAGE_WHEN_OUTSIDE = 0.5
MIN_HEAD_COVERAGE_WHEN_SCORED = 0.3
#: An entry whose title does the opposite of what is asked keeps this share of its score.
OPPOSITE_PENALTY = 0.5
#: ...and one whose title names the side asked for gains this much.
INTENT_BONUS = 0.08
#: Unknown ASCII words are more often names (nginx, payment) than problem words.
UNKNOWN_ASCII_WEIGHT = 1.0
#: ...and an unknown Chinese run that is no word of the dictionary either this share: mostly what
#: the segmenter leaves between words (发布时看 -> 时看, 调少一点 -> 调少) or a typo, not a topic
#: the base lacks (超市, 子账号 are words, and weigh fully)
UNKNOWN_FRAGMENT_WEIGHT = 0.5
#: A lone Chinese character (一, 中, 盘) is weak evidence either way.
SINGLE_CHARACTER_WEIGHT = 0.3
#: Secondary answers must be at least this close to the best one to be shown.
SECONDARY_RATIO = 0.6

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
_COMPOUND = re.compile(r"(?<![a-z0-9._\-/])[a-z0-9]+(?:[._\-/:][a-z0-9]+)+(?![a-z0-9])")
_URL_PATH = re.compile(r"(?:https?:)?(?<![a-z0-9.])/+(?=[a-z0-9]+(?:/[a-z0-9][\w.\-]*)+)([a-z0-9])")
_IP = re.compile(r"(?<![0-9.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![0-9])")
_NAMESPACE_FLAG = re.compile(r"(?:(?<![a-z0-9-])-n|--namespace(?:=|\s))\s*[a-z0-9][a-z0-9.\-]*")
#: Kubernetes quotes the name after the kind: configmaps "app-config" not found, pods "web-1" is
#: forbidden. The quoted part names the object, however ordinary its words.
_QUOTED_NAME = re.compile(
    r"\b((?:configmap|secret|pod|persistentvolumeclaim|pvc|service|deployment|serviceaccount|node|namespace"
    r"|ingress|replicaset|statefulset|daemonset|job|storageclass|image)(?:e?s)?)\s*[\"“”'‘’]([^\"“”'‘’\s]{1,253})[\"“”'‘’]"
)
#: stop words are not bigram material: 容器一直重启 gives 容器 and 重启, not 器一
_MULTI_CHAR_STOPWORDS = re.compile(
    "|".join(sorted((w for w in text.STOPWORDS if len(w) > 1 and not w.isascii()), key=len, reverse=True))
)
_STOP_CHARS = frozenset("的了吗呢吧啊呀么是在和就都也还又把被给我你他她它这那个有不没怎办啥咋哪什为")


def written_texts(entry: Entry) -> dict[str, str]:
    """The fields an entry's authors write; its example questions are read like queries (build_index)."""
    return {"title": entry.title, "tags": " ".join(entry.tags), "body": f"{entry.summary}\n{entry.body}"}


def _ascii_vocabulary(terms: Iterable[str], table: SynonymTable) -> tuple[str, ...]:
    """Known ASCII words long enough to have typos read as them (CrashLoopBakOff, shop-wbe)."""
    words = {t for t in terms if t.isascii() and len(t) >= 4 and t[0] not in "~^"}
    for phrases in table.groups.values():
        words.update(p for p in phrases if p.isascii() and p.isalpha() and len(p) >= 4)
    return tuple(sorted(words))


def stem(word: str) -> str:
    """rebooting, rebooted, reboots -> reboot; nodes, node -> nod: the same on both sides."""
    if len(word) < 4 or not word.isascii() or not word.isalpha():
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if not word.endswith(suffix) or len(word) - len(suffix) < 3:
            continue
        if suffix == "s" and word.endswith(("ss", "us")):
            break
        word = word[: -len(suffix)]
        if suffix in ("ing", "ed") and word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]
        break
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return word


def bigrams(normalized: str, carried: Sequence[str] = ()) -> list[str]:
    """Chinese character bigrams, the channel for compounds the segmenter and synonyms miss.

    Bigrams inside a synonym phrase found in the text (`carried`: 一直重启) are left out: the
    phrase's concept already carries them.
    """
    found: list[str] = []
    for run in _CJK_RUN.findall(_MULTI_CHAR_STOPWORDS.sub(" ", normalized)):
        for i in range(len(run) - 1):
            pair = run[i : i + 2]
            if (pair[0] in _STOP_CHARS and pair[1] in _STOP_CHARS) or pair in text.STOPWORDS:
                continue
            if any(pair in phrase for phrase in carried):
                continue
            found.append(BIGRAM_PREFIX + pair)
    return found


def _words(normalized: str, table: SynonymTable) -> list[str]:
    words = text.tokenize(normalized, normalized=True)
    for whole in table.whole:
        if whole in normalized:
            rest = normalized.replace(whole, " ")
            words = [w for w in words if w == whole or w not in whole or w in rest]
    return [stem(w) for w in words if w not in table.ignore]


def analyze(raw: str, table: SynonymTable = EMPTY, *, limit: int | None = text.MAX_QUERY_CHARS) -> list[str]:
    """Tokens of a text, the concepts it names and its bigrams: the one analyzer for both sides."""
    return _analyze_normalized(text.normalize(raw, limit=limit), table)


def _analyze_normalized(normalized: str, table: SynonymTable) -> list[str]:
    carried = [p for p in table.phrases(normalized) if len(p) > 2 and not p.isascii()]
    return [*_words(normalized, table), *table.concepts(normalized), *bigrams(normalized, carried)]


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
    #: terms of each doc's title alone (see W_TITLE)
    title_terms: tuple[frozenset[str], ...] = ()
    #: concepts each doc's title names (what it does: cordon, or uncordon)
    title_concepts: tuple[frozenset[str], ...] = ()
    synonyms: SynonymTable = field(default=EMPTY)
    #: how firmly each head term belongs to each doc, in (0, 1] (see ANCHOR_QUESTIONS)
    anchors: tuple[dict[str, float], ...] = ()
    #: known words by their sound, for typos made with a pinyin input method
    homophones: Homophones = field(default=NO_HOMOPHONES)
    #: words the entries themselves write (title, tags, body): a question kept as an example
    #: may carry its asker's typo (不可掉度), which must not become a word the base knows
    spelled: frozenset[str] = frozenset()
    #: which entry the examples say a question is about (a second opinion, see classifier.py)
    classifier: Perceptron = field(default_factory=Perceptron)
    #: the same, with the questions no entry answers as one more class (numbered len(ids)):
    #: trained apart, so that learning what is not ours does not move the entries' votes
    not_ours: Perceptron = field(default_factory=Perceptron)

    @cached_property
    def max_idf(self) -> float:
        return math.log(1 + (len(self.ids) + 0.5) / 0.5)

    @cached_property
    def known_words(self) -> frozenset[str]:
        """Words (and synonym phrases) the base knows: never read as a typo of another."""
        phrases = (p for group in self.synonyms.groups.values() for p in group)
        return frozenset(t for t in (*self.spelled, *phrases) if t[0] not in "~^" and not t.isascii())

    def is_known_word(self, word: str) -> bool:
        return word in self.known_words or text.is_dictionary_word(word)

    @cached_property
    def ascii_vocabulary(self) -> tuple[str, ...]:
        return _ascii_vocabulary(self.postings, self.synonyms)

    def to_plain(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "titles": list(self.titles),
            "postings": self.postings,  # tuples: marshal keeps them, so loading converts nothing
            "idf": self.idf,
            "phrasings": [list(p) for p in self.phrasings],
            "head_terms": [sorted(h) for h in self.head_terms],
            "title_terms": [sorted(t) for t in self.title_terms],
            "title_concepts": [sorted(c) for c in self.title_concepts],
            "synonyms": self.synonyms.to_plain(),
            "anchors": list(self.anchors),
            "homophones": self.homophones.to_plain(),
            "spelled": sorted(self.spelled),
            "classifier": self.classifier.to_plain(),
            "not_ours": self.not_ours.to_plain(),
        }

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Index:
        return cls(
            ids=tuple(data["ids"]),
            titles=tuple(data["titles"]),
            postings=data["postings"],
            idf=dict(data["idf"]),
            phrasings=tuple(tuple(p) for p in data["phrasings"]),
            head_terms=tuple(frozenset(h) for h in data["head_terms"]),
            title_terms=tuple(frozenset(t) for t in data.get("title_terms", ())),
            title_concepts=tuple(frozenset(c) for c in data.get("title_concepts", ())),
            synonyms=SynonymTable.from_plain(data.get("synonyms", {})),
            anchors=tuple(dict(a) for a in data.get("anchors", ())),
            homophones=Homophones.from_plain(data.get("homophones", {})),
            spelled=frozenset(data.get("spelled", ())),
            classifier=Perceptron.from_plain(data.get("classifier", {})),
            not_ours=Perceptron.from_plain(data.get("not_ours", {})),
        )


def build_index(entries: Sequence[Entry], table: SynonymTable = EMPTY, not_ours: Sequence[str] = ()) -> Index:
    """`not_ours`: near-domain questions no entry answers; a second classifier learns them as one
    more class (numbered after the entries), which `search` reads as "this is not ours"."""
    per_doc_fields = [
        {name: analyze(value, table, limit=None) for name, value in written_texts(e).items()} for e in entries
    ]
    written = {t for f in per_doc_fields for tokens in f.values() for t in tokens} | table.ascii_phrase_words
    written_ascii = _ascii_vocabulary(written, table)
    # An example question keeps its asker's names (shop-web-7d9f8c6b5-x2k8p): they go, as in a query.
    asked = [
        tuple(
            _strip_names(text.normalize(q, limit=None), written.__contains__, written_ascii)
            for q in e.questions
        )
        for e in entries
    ]
    for fields, questions in zip(per_doc_fields, asked, strict=True):
        fields["questions"] = analyze("\n".join(questions), table, limit=None)
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
    anchors = tuple(_anchors(e, questions, table) for e, questions in zip(entries, asked, strict=True))
    spelled = frozenset(
        t for f in per_doc_fields for name in ("title", "tags", "body") for t in f[name] if t[0] not in "~^"
    )
    n_docs = len(entries)
    idf = {t: math.log(1 + (n_docs - len(ps) + 0.5) / (len(ps) + 0.5)) for t, ps in weighted.items()}
    examples = [
        (frozenset(analyze(example, table, limit=None)), doc)
        for doc, (entry, questions) in enumerate(zip(entries, asked, strict=True))
        for example in (entry.title, *questions)
    ]
    not_ours_examples = [
        (
            frozenset(
                analyze(_strip_names(normalized, written.__contains__, written_ascii), table, limit=None)
            ),
            len(entries),
        )
        for normalized in (text.normalize(q, limit=None) for q in not_ours)
    ]
    trainable = len(entries) <= classifier.MAX_CLASSES
    return Index(
        ids=tuple(e.id for e in entries),
        titles=tuple(e.title for e in entries),
        postings={t: tuple(ps) for t, ps in weighted.items()},
        idf=idf,
        phrasings=tuple(
            (text.normalize(e.title), *questions) for e, questions in zip(entries, asked, strict=True)
        ),
        head_terms=tuple(
            frozenset(t for t in f["title"] + f["questions"] + f["tags"] if not t.startswith(BIGRAM_PREFIX))
            for f in per_doc_fields
        ),
        title_terms=tuple(frozenset(f["title"]) for f in per_doc_fields),
        title_concepts=tuple(frozenset(table.concepts(text.normalize(e.title))) for e in entries),
        synonyms=table,
        anchors=anchors,
        homophones=homophones.build(spelled, [p for group in table.groups.values() for p in group]),
        spelled=spelled,
        classifier=classifier.train(examples) if trainable else Perceptron(),
        not_ours=classifier.train([*examples, *not_ours_examples])
        if trainable and not_ours_examples
        else Perceptron(),
    )


def _anchors(entry: Entry, questions: Sequence[str], table: SynonymTable) -> dict[str, float]:
    named = {t for part in (entry.title, *entry.tags) for t in analyze(part, table, limit=None)}
    asked_in = Counter(t for q in questions for t in set(analyze(q, table, limit=None)))
    weights = {t: min(1.0, n / ANCHOR_QUESTIONS) for t, n in asked_in.items() if n >= MIN_ASKED_IN}
    weights.update(dict.fromkeys(named, 1.0))
    return {t: round(w, 3) for t, w in weights.items() if not t.startswith(BIGRAM_PREFIX)}


@dataclass(frozen=True)
class Hit:
    entry_id: str
    title: str
    #: the ranking key, in [0, 1]: hits are ordered by it
    score: float
    coverage: float
    head_coverage: float
    similarity: float
    #: the entry's title does the opposite of what was asked
    opposite: bool = False
    #: the share of the question its title and tags (or many of its questions) name
    anchored: float = 1.0
    #: the question names a topic the base leaves to others (git, Redis) that this entry is not about
    outside: bool = False


@dataclass(frozen=True)
class Ranking:
    query: str
    confident: bool
    hits: tuple[Hit, ...]
    #: the question's own terms (object names dropped, typos fixed), for finding evidence
    terms: tuple[str, ...] = ()
    #: the classifier reads it as one of the questions the base does not answer (not_ours.yaml)
    not_ours: bool = False
    #: it asks for a value (多少, how many): see `evidence`
    asks_quantity: bool = False


def strip_object_names(index: Index, normalized: str) -> str:
    """The question without the names of the objects it is about (they say which, not what).

    IPs, `-n shop`, names Kubernetes quotes after a kind (`configmaps "app-config"`), and ASCII
    compounds the base does not know as a whole (`shop-web-7d9f8c6b5-x2k8p`, `order-svc`,
    `v1.4.3`) go; known compounds (`kube-proxy`, `label.jst.com`) and compounds that are a typo of
    a known one stay.
    """
    phrase_words = index.synonyms.ascii_phrase_words
    return _strip_names(
        normalized, lambda word: word in index.postings or word in phrase_words, index.ascii_vocabulary
    )


def _strip_names(normalized: str, known: Callable[[str], bool], ascii_vocabulary: Sequence[str]) -> str:
    cleaned = _NAMESPACE_FLAG.sub(" ", _IP.sub(" ", _QUOTED_NAME.sub(r"\1 ", normalized)))
    cleaned = _URL_PATH.sub(r" \1", cleaned)  # https://<ip>/containerlogs/<ns>/<pod>: a compound, split below

    def name_or_word(compound: str) -> str:
        if known(compound) or known(compound.replace("/", "").replace(":", "")):
            return compound
        if ":" in compound or "/" in compound:
            # shop:v1.4.3, registry/repo, a URL path: keep the parts that are words, drop the rest
            parts = (p for p in re.split(r"[/:]", compound) if p)
            return " ".join(
                name_or_word(p) if _COMPOUND.fullmatch(p) else p
                for p in parts
                if known(p) or not text.looks_like_identifier(p)
            )
        if len(compound) >= 6 and not text.looks_like_identifier(compound):
            best = process.extractOne(compound, ascii_vocabulary, scorer=fuzz.ratio, score_cutoff=90)
            if best is not None:
                return str(best[0])
        return " "

    return _COMPOUND.sub(lambda match: name_or_word(match.group()), cleaned)


def _correct_typos(index: Index, tokens: list[str]) -> list[str]:
    """Replace unknown ASCII words (CrashLoopBakOff, rebot) by the closest known one."""
    fixed: list[str] = []
    for token in tokens:
        if (
            token in index.postings
            or not token.isascii()
            or len(token) < 5
            or token[0] in "~^"
            or text.looks_like_identifier(token)
        ):
            fixed.append(token)
            continue
        best = process.extractOne(token, index.ascii_vocabulary, scorer=fuzz.ratio, score_cutoff=85)
        if best is None:
            fixed.append(token)
            continue
        fixed.append(stem(best[0]))
        fixed.extend(index.synonyms.concepts(best[0]))
    return fixed


def _similarity(query: str, phrasings: Sequence[str], *, look_inside: bool) -> float:
    """The closest phrasing, by edit ratio (rapidfuzz loops in C: ~40 phrasings per entry).

    `look_inside`: also a phrasing contained in a longer question (a pasted log line that holds a
    known error message); partial matching costs ~80 µs an entry, so only the leaders get it.
    """
    closest = process.extractOne(query, phrasings, scorer=fuzz.ratio, processor=None)
    best = float(closest[1]) if closest else 0.0
    if look_inside and len(query) > 24:
        pasted_in = [p for p in phrasings if len(p) >= 24 and len(query) > len(p)]
        inside = process.extractOne(query, pasted_in, scorer=fuzz.partial_ratio, processor=None)
        best = max(best, inside[1] - 5) if inside else best
    return best


def query_terms(index: Index, query: str) -> tuple[str, list[str]]:
    """The question normalized without its object names, and its terms (typos fixed).

    Unknown words inside a synonym phrase (条纹 of 条纹马) are carried by its concept: dropped.
    """
    normalized = text.normalize(query)
    cleaned = index.homophones.correct(strip_object_names(index, normalized), index.is_known_word)
    tokens = _correct_typos(index, _analyze_normalized(cleaned, index.synonyms))
    phrases = [p for p in index.synonyms.phrases(cleaned) if not p.isascii()]
    if phrases:
        tokens = [t for t in tokens if t in index.idf or t[0] in "~^" or not any(t in p for p in phrases)]
    return " ".join(cleaned.split()), list(dict.fromkeys(tokens))


def search(index: Index, query: str) -> Ranking:
    normalized, terms = query_terms(index, query)
    scores: dict[int, float] = {}
    for term in terms:
        posting = index.postings.get(term)
        if not posting:
            continue
        weight = index.idf[term] * (BIGRAM_WEIGHT if term.startswith(BIGRAM_PREFIX) else 1.0)
        for doc, tf in posting:
            scores[doc] = scores.get(doc, 0.0) + weight * tf / (K1 + tf)
    units = _evidence_units(index, terms)
    if not scores or not units:
        closest = _closest_titles(index, normalized)
        return Ranking(query=query, confident=False, hits=closest, terms=tuple(terms))

    total_mass = sum(weight for weight, _ in units) or 1.0
    unit_docs = [{d for t in unit for d, _ in index.postings.get(t, ())} for _, unit in units]
    asked = index.synonyms.asked(t for t in terms if t.startswith(CONCEPT_PREFIX))
    elsewhere = index.synonyms.elsewhere_tokens(terms)
    top = sorted(scores, key=scores.__getitem__, reverse=True)[:RERANK_DEPTH]
    votes = index.classifier.scores(terms)
    best_vote = max(votes.values(), default=0.0)
    best_bm25 = scores[top[0]]
    not_ours = _reads_as_not_ours(index, terms)
    ranked: list[tuple[float, Hit]] = []
    for rank, doc in enumerate(top):
        matched = sum(weight for (weight, _), docs in zip(units, unit_docs, strict=True) if doc in docs)
        head_matched = sum(weight for weight, unit in units if not unit.isdisjoint(index.head_terms[doc]))
        title = index.title_terms[doc] if index.title_terms else index.head_terms[doc]
        title_matched = sum(weight for weight, unit in units if not unit.isdisjoint(title))
        similarity = _similarity(normalized, index.phrasings[doc], look_inside=rank < PASTE_DEPTH)
        anchored = _anchored(index, doc, units) / total_mass
        outside = any(_anchor(index, doc, t) < 1.0 for t in elsewhere)
        coverage, head_coverage = matched / total_mass, head_matched / total_mass
        score = (
            W_BM25 * scores[doc] / best_bm25
            + W_COVERAGE * coverage
            + W_HEAD * head_coverage
            + W_TITLE * title_matched / total_mass
            + W_SIMILARITY * max(0.0, similarity - 60.0) / 40.0
            - W_VOTE * (1.0 - _vote_share(votes, doc, best_vote))
        )
        if similarity >= NEAR_DUPLICATE:
            score = max(score, 0.9)
        opposite = _does_the_opposite(index, doc, asked)
        if opposite:
            score *= OPPOSITE_PENALTY
        elif index.title_concepts and not asked.isdisjoint(index.title_concepts[doc]):
            score += INTENT_BONUS  # the title does what is asked: prevent, not recover
        ranked.append(
            (
                score,
                Hit(
                    entry_id=index.ids[doc],
                    title=index.titles[doc],
                    score=round(min(1.0, score), 3),
                    coverage=round(coverage, 3),
                    head_coverage=round(head_coverage, 3),
                    similarity=round(similarity, 1),
                    opposite=opposite,
                    anchored=round(anchored, 3),
                    outside=outside,
                ),
            )
        )
    # the unrounded, uncapped key; the score shown is it rounded into [0, 1]
    ranked.sort(key=lambda r: (-r[0], r[1].entry_id))
    hits = [hit for _, hit in ranked]
    best = hits[0]
    runner_up = ranked[1][0] if len(ranked) > 1 else 0.0
    shown = [h for h in hits[:MAX_ANSWERS] if h is best or h.score >= SECONDARY_RATIO * best.score]
    return Ranking(
        query=query,
        confident=is_confident(
            best,
            total_mass,
            margin=ranked[0][0] - runner_up,
            not_ours=not_ours,
            comparing=index.synonyms.compares(normalized),
            alone=len(units) == 1,
        ),
        hits=tuple(shown),
        terms=tuple(terms),
        not_ours=not_ours,
        asks_quantity=index.synonyms.asks_quantity(normalized),
    )


def _reads_as_not_ours(index: Index, terms: Sequence[str]) -> bool:
    """The examples of questions no entry answers outvote every entry's examples."""
    votes = index.not_ours.scores(terms)
    not_ours = votes.pop(len(index.ids), 0.0)
    return not_ours > max(0.0, max(votes.values(), default=0.0))


def _vote_share(votes: dict[int, float], doc: int, best_vote: float) -> float:
    """The classifier's vote for the doc as a share of its favourite's (1.0 when it has none)."""
    return max(0.0, votes.get(doc, 0.0)) / best_vote if best_vote > 0 else 1.0


def _anchor(index: Index, doc: int, term: str) -> float:
    return index.anchors[doc].get(term, 0.0) if index.anchors else 1.0


def _anchored(index: Index, doc: int, units: Sequence[tuple[float, frozenset[str]]]) -> float:
    """How much of the question (IDF) the doc is about, not merely mentions."""
    if not index.anchors:
        return sum(weight for weight, _ in units)
    anchors = index.anchors[doc]
    return sum(weight * max([anchors.get(t, 0.0) for t in unit], default=0.0) for weight, unit in units)


def _does_the_opposite(index: Index, doc: int, asked: set[str]) -> bool:
    """The question asks for one side of a pair (cordon) and the entry's title names only the other."""
    if not index.title_concepts or not asked:
        return False
    title = index.title_concepts[doc]
    opposite = index.synonyms.opposite
    return any(concept not in title and not opposite[concept].isdisjoint(title) for concept in asked)


def _evidence_units(index: Index, terms: Sequence[str]) -> list[tuple[float, frozenset[str]]]:
    """What the question says, as weighted units: a word together with the concepts it names alone.

    模板 and ~template are one piece of evidence, not two; a phrase concept (一直重启 ->
    ~crashloop) is its own. Unknown words weigh as much as the rarest known ones (ASCII ones a
    little less: they are often names), except object names and synonym words (their concept
    carries them). An unknown Chinese word is matched by its known character bigrams; one the
    dictionary does not know either (时看) weighs half.
    """
    table = index.synonyms
    units: list[tuple[float, frozenset[str]]] = []
    attached: set[str] = set()
    for term in terms:
        if term[0] in (CONCEPT_PREFIX, BIGRAM_PREFIX):
            continue
        named = table.concepts(term)
        if term in index.idf:
            single = len(term) == 1 and not term.isascii()
            weight = index.idf[term] * (SINGLE_CHARACTER_WEIGHT if single else 1.0)
            units.append((weight, frozenset((term, *named))))
            attached.update(named)
        elif named or text.looks_like_identifier(term):
            continue
        elif term.isascii():
            units.append((UNKNOWN_ASCII_WEIGHT * index.max_idf, frozenset((term,))))
        elif len(term) == 1:
            units.append((SINGLE_CHARACTER_WEIGHT * index.max_idf, frozenset((term,))))
        else:
            known = [b for b in bigrams(term) if b in index.idf]
            share = 1.0 if text.is_dictionary_word(term) else UNKNOWN_FRAGMENT_WEIGHT
            units.append((share * index.max_idf, frozenset((term, *known))))
    for term in terms:
        if term.startswith(CONCEPT_PREFIX) and term not in attached:
            units.append((index.idf.get(term, index.max_idf), frozenset((term,))))
    return units


def is_confident(
    best: Hit,
    total_mass: float,
    margin: float = 1.0,
    *,
    not_ours: bool = False,
    comparing: bool = False,
    alone: bool = False,
) -> bool:
    """Whether the best entry answers the question, rather than sharing a few words with it.

    `margin`: how far ahead of the next entry it is. Two siblings nearly tied (drain and cordon,
    causes and recovery) is a question the ranking cannot settle: better "did you mean" than a
    confident wrong answer, unless the question is `comparing` two things (排空和不可调度有啥区别):
    then the tie is what was asked about, and both are shown. `not_ours`: it reads like the
    questions no entry answers; only an entry's own example, nearly word for word, outweighs that.
    `alone`: the question says one thing only, which the entry must be about.
    """
    if best.opposite:
        return False
    if best.similarity >= NEAR_DUPLICATE:
        return True
    if not_ours:
        return False
    if best.outside and (best.score < OUTSIDE_SCORE or best.head_coverage < MIN_HEAD_COVERAGE_WHEN_OUTSIDE):
        return False
    if (margin < MIN_MARGIN and not comparing) or best.anchored < MIN_ANCHORED:
        return False
    if alone and best.anchored < MIN_ANCHORED_WHEN_ALONE:
        return False
    if best.score < MIN_SCORE:
        return False
    if best.score >= CONFIDENT_SCORE and best.head_coverage >= MIN_HEAD_COVERAGE_WHEN_SCORED:
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


_SENTENCE_END = re.compile(r"(?<=[。!?;!?;])|\n+")
_FENCED = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.S | re.M)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.、)])\s+")
#: A sentence must carry at least this much of the question (IDF) to be shown as evidence.
MIN_EVIDENCE_IDF = 2.5
_NUMBER = re.compile(r"\d")


def _sentences(markdown: str) -> list[str]:
    found: list[str] = []
    for piece in _SENTENCE_END.split(_FENCED.sub("\n", markdown)):
        sentence = _BULLET.sub("", piece).strip()
        if len(sentence) >= 6 and not sentence.startswith("#"):
            found.append(sentence)
    return found


Sentences = tuple[tuple[str, frozenset[str]], ...]


def analyzed_sentences(index: Index, markdown: str) -> Sentences:
    """The sentences of a text with their terms, for `evidence` (callers may cache them per entry)."""
    return tuple(
        (sentence, frozenset(analyze(sentence, index.synonyms, limit=None)))
        for sentence in _sentences(markdown)
    )


def evidence(
    index: Index, terms: Sequence[str], printed: Sentences, unprinted: Sentences, *, quantity: bool = False
) -> str:
    """The sentence of the entry that best answers the question, when it is not printed already.

    A question about the default CPU request is answered by a sentence in 原因 (默认 100m);
    the printed answer (summary and steps) may not contain it. Returns "" when the printed
    part explains the question at least as well as any other sentence. A question that asks
    for a `quantity` (是多少) is answered by a sentence with a number: the number weighs as much
    as the rarest word.
    """
    wanted = {
        t: index.idf.get(t, 0.0) for t in terms if not t.startswith(BIGRAM_PREFIX) and index.idf.get(t, 0.0)
    }
    if not wanted or not unprinted:
        return ""

    def weight(sentence: str, terms_of: frozenset[str]) -> float:
        found = sum(w for t, w in wanted.items() if t in terms_of)
        return found + (index.max_idf if quantity and found and _NUMBER.search(sentence) else 0.0)

    best_printed = max((weight(s, t) for s, t in printed), default=0.0)
    best_weight, _, best = max((weight(s, t), -i, s) for i, (s, t) in enumerate(unprinted))
    return best if best_weight > best_printed and best_weight >= MIN_EVIDENCE_IDF else ""
