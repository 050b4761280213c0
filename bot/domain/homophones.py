"""Chinese typos by sound: 节电 for 节点, 不可掉度 for 不可调度.

People type Chinese through pinyin input methods, so their typos are homophones: the right
syllables, the wrong characters. A window of the question that is no word the base knows but
sounds exactly like one (same toneless syllables) is read as that word.

The sound table is made when the base is built (pypinyin, only then) and stored with the index,
so answering a question never loads pypinyin's dictionaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.text import STOPWORDS

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
#: Window lengths tried at each position, longest first.
_LENGTHS = (4, 3, 2)


@dataclass(frozen=True)
class Homophones:
    #: character -> its first toneless reading (掉 -> diao), for the characters people type
    sound: Mapping[str, str] = field(default_factory=dict)
    #: toneless syllables of a known word -> the known words that sound so (jie dian -> 节点)
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def key(self, word: str) -> str | None:
        syllables = [self.sound.get(char) for char in word]
        return None if None in syllables else " ".join(s for s in syllables if s)

    def correct(self, normalized: str, known: Callable[[str], bool]) -> str:
        """The text with every window that is no word (`known` says which are) but sounds like
        a known word replaced by that word. A real word is never changed: 一致 is not 一直."""
        if not self.words:
            return normalized
        return _CJK_RUN.sub(lambda m: self._correct_run(m.group(), known), normalized)

    def _correct_run(self, run: str, known: Callable[[str], bool]) -> str:
        out: list[str] = []
        i = 0
        while i < len(run):
            step, piece = 1, run[i]
            for length in _LENGTHS:
                window = run[i : i + length]
                if len(window) < length:
                    continue
                if known(window):
                    step, piece = length, window
                    break
                if _cuts_a_word(run, i, i + length, known) or _made_of_words(window, known):
                    continue  # 服务启|动: 服务启 sounds like 服务器, but 启动 is the word there
                key = self.key(window)
                heard = self.words.get(key) if key else None
                if heard:
                    step, piece = length, heard[0]
                    break
            out.append(piece)
            i += step
        return "".join(out)

    def to_plain(self) -> dict[str, Any]:
        return {"sound": dict(self.sound), "words": {k: list(v) for k, v in self.words.items()}}

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> Homophones:
        words = {k: tuple(v) for k, v in data.get("words", {}).items()}
        return cls(sound=dict(data.get("sound", {})), words=words)


NO_HOMOPHONES = Homophones()


def _made_of_words(window: str, known: Callable[[str], bool]) -> bool:
    """Real words side by side, not a typo: 一直+重启 (not 一致重启), 默认+只 (not 默认值),
    挂+在 (not 挂载)."""
    if len(window) == 2:
        return any(char in STOPWORDS for char in window)  # 挂在, 写在: a word and a particle
    if len(window) == 3:
        return known(window[:2]) or known(window[1:])
    return known(window[:2]) and known(window[2:])


def _cuts_a_word(run: str, start: int, end: int, known: Callable[[str], bool]) -> bool:
    """Whether the window run[start:end] begins or ends inside a word of the run."""
    ends_inside = end < len(run) and known(run[end - 1 : end + 1])
    return ends_inside or (start > 0 and known(run[start - 1 : start + 1]))


def common_characters() -> list[str]:
    """The 6,763 characters of GB 2312: what a pinyin input method offers first."""
    chars: list[str] = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def build(vocabulary: Iterable[str], terms: Iterable[str] = ()) -> Homophones:
    """The sound table and the known words by their sound, from the `vocabulary` the entries
    write and the curated `terms` (synonym phrases: 排空, 回滚). Two characters count too (驱东
    for 驱动, 拼措 for 拼错): only a window that is no word is ever read as one, so an everyday
    word that sounds alike (一致 beside 一直) stays itself."""
    from pypinyin import Style, lazy_pinyin  # build time only: its dictionaries take ~0.2 s to load

    sound = {c: lazy_pinyin(c, style=Style.NORMAL)[0] for c in common_characters()}
    words: dict[str, list[str]] = {}
    for word in sorted({*vocabulary, *terms}):
        if not 2 <= len(word) <= max(_LENGTHS) or not _CJK_RUN.fullmatch(word):
            continue
        keys = {" ".join(lazy_pinyin(word, style=Style.NORMAL))}
        by_char = Homophones(sound).key(word)
        if by_char:
            keys.add(by_char)
        for key in keys:
            words.setdefault(key, []).append(word)
    return Homophones(sound=sound, words={k: tuple(v) for k, v in words.items()})
