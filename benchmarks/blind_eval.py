"""How well the shipped knowledge base answers a labelled question set it was never tuned on.

    python benchmarks/blind_eval.py                                  # tests/data/blind_v7.yaml
    python benchmarks/blind_eval.py --set tests/data/heldout.yaml    # items {q, id}
    python benchmarks/blind_eval.py --misses                         # every miss, top-3 ids and scores
    python benchmarks/blind_eval.py --json                           # machine-readable

A set is a YAML list, or a mapping with a `questions` list. Items:

- on-topic: `q` and `ids` (acceptable top-1 entries) or `id`; optional `doc`, `section`,
  `intent`, `style`, `expect_fact` (without `doc`, misses are grouped by the labelled entry's source);
- knowledge gap: `ids: []` (+ `gap`): nothing should answer it confidently;
- off-topic: `offtopic: true`, or a bare string: must never come back confident.

The headline is "top-1 right AND confident". Confidently wrong (confident, top-1 not in `ids`) is
the worst case and is listed in full. `expect_fact` is looked up in the top-1 answer as
`deploybot ask` renders it (bot.services.ask + bot.render.answers.to_text), after NFKC, case
folding and removing whitespace; a fact written as "a / b" or "a;b" needs every part.

The knowledge base is compiled into a temporary data folder; nothing in the tree is written.
Numbers are printed, never asserted: this set must never be used for tuning.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot import services  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.knowledge_base import KnowledgeBase  # noqa: E402
from bot.render import answers  # noqa: E402

DEFAULT_SET = REPO / "tests" / "data" / "blind_v7.yaml"
TOP_K = 3
GROUPS = ("style", "intent", "doc")
_FACT_PARTS = re.compile(r"\s+/\s+|[;;]")


@dataclass(frozen=True)
class Item:
    q: str
    ids: tuple[str, ...]
    offtopic: bool = False
    gap: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    expect_fact: str | None = None

    @property
    def on_topic(self) -> bool:
        return not self.offtopic and bool(self.ids)


@dataclass(frozen=True)
class Outcome:
    item: Item
    confident: bool
    top: tuple[tuple[str, float], ...]  # (entry id, score), best first

    @property
    def top1(self) -> str | None:
        return self.top[0][0] if self.top else None

    @property
    def top1_right(self) -> bool:
        return self.top1 in self.item.ids

    @property
    def top3_right(self) -> bool:
        return any(entry_id in self.item.ids for entry_id, _ in self.top[:TOP_K])

    @property
    def answered(self) -> bool:
        """The headline: right entry first, and the bot commits to it."""
        return self.top1_right and self.confident

    @property
    def confidently_wrong(self) -> bool:
        return self.confident and not self.top1_right


@dataclass(frozen=True)
class FactCheck:
    item: Item
    top1: str | None
    confident: bool
    in_top1: bool  # in the top-1 answer as rendered, whether or not the bot was confident
    shown: bool  # in what `deploybot ask` actually prints (needs confidence)
    in_gold: bool  # in the rendered answer of a labelled entry: could a right top-1 have shown it
    in_top1_body: bool  # anywhere in the top-1 entry (also 现象/原因/补充, which `ask` does not print)

    @property
    def cause(self) -> str:
        """Why the fact is not in the top-1 answer (meaningful only when it is not)."""
        if self.top1 not in self.item.ids:
            return "wrong top-1"
        if self.in_top1_body:
            return "in the entry, but not in the printed summary/steps"
        return "not literally in the entry (paraphrased or missing: check by hand)"


def load_set(path: Path) -> list[Item]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = raw.get("questions", []) if isinstance(raw, dict) else raw
    if not isinstance(rows, list):
        raise SystemExit(f"{path}: expected a list of questions (or a mapping with `questions`)")
    items: list[Item] = []
    unlabelled: list[str] = []
    for row in rows:
        if isinstance(row, str):
            items.append(Item(q=row, ids=(), offtopic=True))
            continue
        q = str(row["q"])
        if row.get("offtopic"):
            items.append(Item(q=q, ids=(), offtopic=True))
            continue
        if "ids" in row:
            ids = tuple(str(i) for i in row["ids"] or ())
        elif "id" in row:
            ids = (str(row["id"]),)
        else:
            unlabelled.append(q)
            continue
        meta = {key: str(row[key]) for key in (*GROUPS, "section") if key in row}
        fact = row.get("expect_fact")
        gap = None if ids else str(row.get("gap") or "")
        items.append(Item(q=q, ids=ids, gap=gap, meta=meta, expect_fact=None if fact is None else str(fact)))
    if unlabelled:
        listing = "\n".join(f"  {q[:100]!r}" for q in unlabelled)
        raise SystemExit(f"{path}: {len(unlabelled)} on-topic items have no `ids`/`id`:\n{listing}")
    return items


def _norm(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value).casefold())


def fact_in(fact: str, rendered: str) -> bool:
    haystack = _norm(rendered)
    if _norm(fact) in haystack:
        return True
    parts = [p for p in (_norm(part) for part in _FACT_PARTS.split(fact)) if p]
    return len(parts) > 1 and all(part in haystack for part in parts)


def _render_top1(result: services.AskResult) -> str:
    """The top-1 answer exactly as `deploybot ask` prints a confident answer."""
    if not result.answers:
        return ""
    return answers.to_text(dataclasses.replace(result, confident=True, answers=result.answers[:1]))


def _render_entry(kb: KnowledgeBase, entry_id: str) -> str:
    entry = kb.entry(entry_id)
    if entry is None:
        return ""
    result = services.AskResult(query="", confident=True, answers=(services.Answer(entry, 1.0),))
    return answers.to_text(result)


def _entry_text(kb: KnowledgeBase, entry_id: str | None) -> str:
    entry = kb.entry(entry_id) if entry_id else None
    return "" if entry is None else "\n".join((entry.title, entry.summary, entry.body))


def _with_doc(kb: KnowledgeBase, item: Item) -> Item:
    """Sets without a `doc` field (heldout.yaml) are grouped by the labelled entry's first source."""
    entry = kb.entry(item.ids[0]) if item.ids and "doc" not in item.meta else None
    if entry is None or not entry.sources:
        return item
    return dataclasses.replace(item, meta={**item.meta, "doc": entry.sources[0]})


def evaluate(kb: KnowledgeBase, items: Sequence[Item]) -> tuple[list[Outcome], list[FactCheck]]:
    outcomes: list[Outcome] = []
    facts: list[FactCheck] = []
    for item in items:
        ranking = kb.search(item.q)
        top = tuple((hit.entry_id, hit.score) for hit in ranking.hits[:TOP_K])
        outcome = Outcome(item=item, confident=ranking.confident, top=top)
        outcomes.append(outcome)
        if item.on_topic and item.expect_fact:
            result = services.ask(kb, item.q)
            facts.append(
                FactCheck(
                    item=item,
                    top1=outcome.top1,
                    confident=result.confident,
                    in_top1=fact_in(item.expect_fact, _render_top1(result)),
                    shown=fact_in(item.expect_fact, answers.to_text(result)),
                    in_gold=any(fact_in(item.expect_fact, _render_entry(kb, i)) for i in item.ids),
                    in_top1_body=fact_in(item.expect_fact, _entry_text(kb, outcome.top1)),
                )
            )
    return outcomes, facts


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def _top1_score(o: Outcome) -> float | None:
    return o.top[0][1] if o.top else None


def _miss_row(o: Outcome) -> dict[str, Any]:
    return {
        "q": o.item.q,
        "ids": list(o.item.ids),
        "confident": o.confident,
        "top": [{"id": entry_id, "score": score} for entry_id, score in o.top],
        "kind": _miss_kind(o),
        **o.item.meta,
    }


def _miss_kind(o: Outcome) -> str:
    if o.confidently_wrong:
        return "confidently-wrong"
    if o.top1_right:
        return "right-not-confident"
    return "in-top3" if o.top3_right else "not-in-top3"


def _breakdown(outcomes: Iterable[Outcome], key: str) -> dict[str, dict[str, Any]]:
    total: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for o in outcomes:
        value = o.item.meta.get(key)
        if value is None:
            continue
        total[value] += 1
        missed[value] += not o.answered
        wrong[value] += o.confidently_wrong
    return {
        value: {
            "n": total[value],
            "misses": missed[value],
            "miss_rate": _rate(missed[value], total[value]),
            "confidently_wrong": wrong[value],
        }
        for value in sorted(total, key=lambda v: (-_rate(missed[v], total[v]), v))
    }


def summarize(path: Path, outcomes: Sequence[Outcome], facts: Sequence[FactCheck]) -> dict[str, Any]:
    on = [o for o in outcomes if o.item.on_topic]
    off = [o for o in outcomes if o.item.offtopic]
    gaps = [o for o in outcomes if not o.item.offtopic and not o.item.ids]
    n = len(on)
    answered = sum(o.answered for o in on)
    top1 = sum(o.top1_right for o in on)
    top3 = sum(o.top3_right for o in on)
    wrong = [o for o in on if o.confidently_wrong]
    misses = [o for o in on if not o.answered]
    off_conf = [o for o in off if o.confident]
    gap_conf = [o for o in gaps if o.confident]
    labels = Counter("1 id" if len(o.item.ids) == 1 else "2+ ids" for o in on)
    return {
        "set": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path),
        "items": len(outcomes),
        "on_topic": n,
        "labels": {"1 id": labels["1 id"], "2+ ids": labels["2+ ids"], "gaps": len(gaps)},
        "headline_top1_and_confident": {"count": answered, "rate": _rate(answered, n)},
        "top1": {"count": top1, "rate": _rate(top1, n)},
        "top3": {"count": top3, "rate": _rate(top3, n)},
        "right_but_not_confident": sum(o.top1_right and not o.confident for o in on),
        "confidently_wrong": {"count": len(wrong), "items": [_miss_row(o) for o in wrong]},
        "offtopic": {
            "n": len(off),
            "confident": len(off_conf),
            "items": [{"q": o.item.q, "top": o.top1, "score": _top1_score(o)} for o in off_conf],
        },
        "gaps": {
            "n": len(gaps),
            "confident": len(gap_conf),
            "items": [{"q": o.item.q, "gap": o.item.gap, "top": o.top1} for o in gap_conf],
        },
        "miss_kinds": dict(Counter(_miss_kind(o) for o in misses)),
        "by": {key: _breakdown(on, key) for key in GROUPS},
        "expect_fact": {
            "n": len(facts),
            "in_top1_answer": sum(f.in_top1 for f in facts),
            "shown_to_user": sum(f.shown for f in facts),
            "in_labelled_entry_answer": sum(f.in_gold for f in facts),
            "miss_causes": dict(Counter(f.cause for f in facts if not f.in_top1)),
            "misses": [
                {
                    "q": f.item.q,
                    "fact": f.item.expect_fact,
                    "ids": list(f.item.ids),
                    "top1": f.top1,
                    "confident": f.confident,
                    "in_labelled_entry_answer": f.in_gold,
                    "in_top1_entry_text": f.in_top1_body,
                    "cause": f.cause,
                }
                for f in facts
                if not f.in_top1
            ],
        },
        "misses": [_miss_row(o) for o in misses],
    }


def _pct(block: dict[str, Any], n: int) -> str:
    return f"{block['count']:>3}/{n} = {block['rate']:.3f}"


def _short(q: str, width: int = 90) -> str:
    flat = " ⏎ ".join(line.strip() for line in q.strip().splitlines())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _top(row: dict[str, Any]) -> str:
    return ", ".join(f"{t['id']} {t['score']:.3f}" for t in row["top"]) or "(no hits)"


def print_report(s: dict[str, Any], *, show_misses: bool) -> None:
    n = s["on_topic"]
    labels = s["labels"]
    print(f"set: {s['set']}  ({s['items']} items: {n} on-topic, {s['offtopic']['n']} off-topic)")
    print(f"labels: {labels['1 id']} with 1 id, {labels['2+ ids']} with 2+ ids, {labels['gaps']} gaps")
    print()
    print(f"top-1 right AND confident  {_pct(s['headline_top1_and_confident'], n)}   <- headline")
    print(f"top-1 right                {_pct(s['top1'], n)}")
    print(f"top-3 right                {_pct(s['top3'], n)}")
    print(f"right but not confident    {s['right_but_not_confident']:>3}")
    print(f"confidently wrong          {s['confidently_wrong']['count']:>3}   <- worst case")
    print(f"off-topic confident        {s['offtopic']['confident']:>3}/{s['offtopic']['n']}   (must be 0)")
    if s["gaps"]["n"]:
        print(f"gap items confident        {s['gaps']['confident']:>3}/{s['gaps']['n']}")
    if s["miss_kinds"]:
        print("misses by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(s["miss_kinds"].items())))

    if s["confidently_wrong"]["items"]:
        print("\nconfidently wrong:")
        for row in s["confidently_wrong"]["items"]:
            print(f"  {_short(row['q'])!r}\n      want {row['ids']}  got {_top(row)}")
    if s["offtopic"]["items"]:
        print("\noff-topic answered confidently:")
        for row in s["offtopic"]["items"]:
            print(f"  {_short(row['q'])!r} -> {row['top']} {row['score']}")
    if s["gaps"]["items"]:
        print("\nknowledge-gap items answered confidently:")
        for row in s["gaps"]["items"]:
            print(f"  {_short(row['q'])!r} -> {row['top']}  (gap: {row['gap']})")

    for key, groups in s["by"].items():
        if not groups:
            continue
        print(f"\nmisses by {key} (headline misses / n, confidently wrong):")
        for value, g in groups.items():
            counts = f"{g['misses']:>3}/{g['n']:<3} {g['miss_rate']:.2f}"
            print(f"  {value:<34} {counts}   wrong {g['confidently_wrong']}")

    facts = s["expect_fact"]
    if facts["n"]:
        print(
            f"\nexpect_fact: {facts['in_top1_answer']}/{facts['n']} in the top-1 rendered answer, "
            f"{facts['shown_to_user']}/{facts['n']} actually shown (confident), "
            f"{facts['in_labelled_entry_answer']}/{facts['n']} in a labelled entry's rendered answer"
        )
        if facts["miss_causes"]:
            causes = sorted(facts["miss_causes"].items())
            print("  misses by cause: " + "; ".join(f"{k}: {v}" for k, v in causes))
        for row in facts["misses"]:
            print(
                f"  {_short(row['q'], 70)!r}\n      fact {row['fact']!r}: top-1 {row['top1']} "
                f"(confident={row['confident']}), want {row['ids']}\n      -> {row['cause']}"
            )

    if show_misses and s["misses"]:
        print(f"\nall {len(s['misses'])} misses (want -> top-3, confident):")
        for row in s["misses"]:
            tags = " ".join(f"{k}={row[k]}" for k in GROUPS if k in row)
            print(f"  [{row['kind']}] {_short(row['q'])!r}  {tags}")
            print(f"      want {row['ids']}  got {_top(row)}  confident={row['confident']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="question set (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--misses", action="store_true", help="list every miss with its top-3 ids and scores")
    args = parser.parse_args(argv)
    path: Path = args.set if args.set.is_absolute() else (Path.cwd() / args.set).resolve()
    items = load_set(path)
    with tempfile.TemporaryDirectory(prefix="deploybot-blind-") as data_dir:
        kb = KnowledgeBase.open(Settings(knowledge_dir=REPO / "knowledge", data_dir=Path(data_dir)))
        try:
            known = {entry.id for entry in kb.entries()}
            unknown = sorted({i for item in items for i in item.ids} - known)
            if unknown:
                raise SystemExit(f"{path}: labels name entries that do not exist: {unknown}")
            outcomes, facts = evaluate(kb, [_with_doc(kb, item) for item in items])
        finally:
            kb.close()
    summary = summarize(path, outcomes, facts)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print_report(summary, show_misses=args.misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
