"""Which sentence of an entry is shown beside its answer (the domain alone, no I/O)."""

from __future__ import annotations

from bot.domain import retrieval
from bot.domain.synonyms import SynonymTable
from tests.hand_made import entry

TABLE = SynonymTable(quantity=("多少",))
REQUESTS = entry(
    "requests",
    "Pod Pending: CPU 申请完了",
    ("cpu 不够 pod pending",),
    body="管理员还会给没写申请的容器配置默认的 CPU 申请。在 default 里每个容器默认申请 100m 的 CPU。",
)
INDEX = retrieval.build_index([REQUESTS, entry("disk", "云盘挂不上", ("pvc pending",))], TABLE)
PRINTED = retrieval.analyzed_sentences(INDEX, "调小申请后重新部署。")
UNPRINTED = retrieval.analyzed_sentences(INDEX, REQUESTS.sections["原因"])


def _shown(question: str) -> str:
    ranking = retrieval.search(INDEX, question)
    return retrieval.evidence(INDEX, ranking.terms, PRINTED, UNPRINTED, quantity=ranking.asks_quantity)


def test_a_question_for_a_value_is_shown_the_sentence_with_the_number() -> None:
    assert TABLE.asks_quantity("默认的 cpu 申请是多少") and not TABLE.asks_quantity("默认的 cpu 申请怎么配置")
    assert "100m" in _shown("没写申请的容器 默认的 cpu 申请是多少")
    # asked how, the sentence that says most of the question's words wins, number or not
    assert "100m" not in _shown("没写申请的容器 默认的 cpu 申请怎么配置")
    assert _shown("没写申请的容器 默认的 cpu 申请怎么配置").startswith("管理员")
