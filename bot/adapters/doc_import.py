"""Read a team's docs from disk (Markdown, HTML, plain text) and write draft entries."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from bot.domain import drafts
from bot.errors import UsageError

MARKDOWN = {".md", ".markdown"}
HTML = {".html", ".htm"}
TEXT = {".txt", ".text", ""}


class _HtmlToMarkdown(HTMLParser):
    """Just enough structure for splitting: headings, list items, paragraphs, code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "nav", "footer", "header"}:
            self._skip += 1
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.out.append("\n" + "#" * int(tag[1]) + " ")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in {"p", "div", "br", "tr"}:
            self.out.append("\n")
        elif tag == "pre":
            self.out.append("\n```\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "nav", "footer", "header"}:
            self._skip = max(0, self._skip - 1)
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6", "p"}:
            self.out.append("\n")
        elif tag == "pre":
            self.out.append("\n```\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_markdown(html: str) -> str:
    parser = _HtmlToMarkdown()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


def _sections_of(path: Path) -> list[drafts.Section]:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; convert it first") from None
    suffix = path.suffix.lower()
    if suffix in MARKDOWN:
        return drafts.split_markdown(raw)
    if suffix in HTML:
        return drafts.split_markdown(html_to_markdown(raw))
    if suffix in TEXT:
        return drafts.split_plain(raw)
    raise UsageError(f"{path}: unsupported file type {suffix!r} (Markdown, HTML or plain text)")


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MARKDOWN | HTML | TEXT
                )
            )
        else:
            found.append(path)
    return found


def import_docs(paths: list[Path], target: Path) -> list[Path]:
    """One draft file per section; existing drafts are never overwritten."""
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path in _files(paths):
        stem = drafts.slug(path.stem)
        for number, section in enumerate(_sections_of(path), start=1):
            entry_id = f"draft-{stem}-{number}"
            out = target / f"{entry_id}.md"
            if out.exists():
                continue
            out.write_text(
                drafts.render_draft(section, entry_id=entry_id, source=path.name), encoding="utf-8"
            )
            written.append(out)
    return written
