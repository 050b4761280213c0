"""Normalize and tokenize the way on-call people write: Chinese, English and pasted error lines.

Chinese runs go through jieba (rjieba, a Rust port: fast to load, ~0.1 ms a question);
ASCII runs are kept whole so `CrashLoopBackOff`, `OOMKilled` and `10250` stay one token.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Longest question text we look at; the rest of a 20k-character paste adds noise, not signal.
MAX_QUERY_CHARS = 2000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_SPACES = re.compile(r"\s+")
# Terminal colour codes in pasted kubectl output: `\x1b[31mError\x1b[0m`.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# A run of CJK ideographs, or an ASCII word (letters/digits, with inner . _ - kept together
# so `v1.4.3` or `kube-proxy` stay whole; they are split again below for sub-word matches).
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[._\-][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

STOPWORDS = frozenset(
    """
    的 了 吗 呢 吧 啊 呀 嘛 哦 哈 么 是 在 和 与 及 或 就 都 也 还 又 才 把 被 让 给 对 从 向 到 为 以
    我 你 他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些 这里 那里 这样 那样 一个 一下 一些 有点
    怎么 怎么办 怎么回事 怎样 如何 什么 为什么 为啥 咋 咋办 咋整 啥 哪 哪里 哪儿 哪个
    能 能否 可以 是否 要 需要 想 请问 请 麻烦 帮忙 帮 看看
    一直 总是 老是 就是 然后 但是 可是 因为 所以 如果 应该 会 得 地 着 过 个
    意思 是什么意思 还是 已经 别的 只有 用 不 有 再 正确 姿势 半天 什么都 某个 之前 哪些 东西
    好几个 好几 几个 小时 先 急 下面 出来 之后 后 上 里 没 完 行 行不行 正常吗 一般 一次 有些
    the a an is are was were be been being am to of in on at for by with from as it its this that these those
    i me my we our you your he she they them what why how when where which who whom can could should would
    do does did done doing have has had will shall may might must not no yes and or but if then so than
    there here please help any some get got just still keep keeps kept again about into out up down
    t s don doesn isn aren won didn can't cannot make makes made usually every all off
    also even though really very much many one only after before while
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def normalize(text: str, *, limit: int | None = MAX_QUERY_CHARS) -> str:
    """Fold widths and case, drop control characters, collapse space, cap the length."""
    if limit is not None:
        text = text[: limit * 2]  # cheap pre-cut: a 20k-character paste is not normalized whole
    text = unicodedata.normalize("NFKC", clean(text))
    text = _SPACES.sub(" ", text).strip().lower()
    return text if limit is None else text[:limit]


def clean(text: str) -> str:
    """The text as a person meant it: colour codes and control characters dropped, case kept."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", _ANSI.sub("", text))).strip()


@lru_cache(maxsize=1)
def _segmenter() -> object:
    import rjieba  # a C-speed segmenter; imported on first Chinese text only

    return rjieba


def is_dictionary_word(run: str) -> bool:
    """Whether the segmenter's dictionary knows this Chinese run as one word (节电, 一直)."""
    if run in STOPWORDS:
        return True
    seg = _segmenter()
    return bool(seg.cut(run, False) == [run])  # type: ignore[attr-defined]  # no HMM: it makes up words


def _cut_chinese(run: str) -> list[str]:
    seg = _segmenter()
    words: list[str] = seg.cut_for_search(run)  # type: ignore[attr-defined]
    return words


def tokenize(text: str, *, normalized: bool = False) -> list[str]:
    """Content tokens of `text`, in order, stop words removed.

    An ASCII compound like `kube-proxy` yields itself and its parts, so both the whole
    error string and its pieces can match.
    """
    if not normalized:
        text = normalize(text)
    tokens: list[str] = []
    for match in _RUNS.finditer(text):
        run = match.group()
        if _CJK.match(run):
            tokens.extend(w for w in _cut_chinese(run) if w not in STOPWORDS)
            continue
        if run in STOPWORDS:
            continue
        tokens.append(run)
        if any(sep in run for sep in "._-"):
            tokens.extend(p for p in re.split(r"[._\-]", run) if p and p not in STOPWORDS and p != run)
    return tokens


def looks_like_identifier(token: str) -> bool:
    """Pod hashes, IPs, versions: tokens that name one object rather than a problem."""
    if token.count(".") >= 2 or token.count("-") >= 2:
        return True  # IPs, versions, generated pod names
    if token.isdigit():
        return len(token) > 5 or len(token) == 1
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return (has_digit and has_alpha and len(token) >= 5) or len(token) > 24


# Terminal control in cluster data (a log line, an event or termination message): CSI
# (`ESC [ … final`, or its 8-bit form 0x9b), OSC (`ESC ] … BEL/ST`: titles, hyperlinks, clipboard),
# DCS/SOS/PM/APC strings up to ST, any other ESC sequence, then every C0/C1 control left but
# newline and tab, and the Unicode bidi overrides/isolates that reorder what a line seems to say.
_TERMINAL_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, BEL- or ST-terminated (or cut off)
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # any other escape sequence (or a lone ESC)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 (but \t and \n), DEL, C1
    r"|[\u202a-\u202e\u2066-\u2069]"  # bidi embeddings/overrides and isolates
)


def terminal_safe(text: str) -> str:
    """Text that cannot drive the terminal it is printed on: escape sequences, control characters
    and bidi overrides removed; newlines and tabs kept."""
    return _TERMINAL_CONTROL.sub("", text.replace("\r\n", "\n"))
