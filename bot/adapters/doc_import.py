"""Read a team's docs from disk (Markdown, HTML, plain text) and write draft entries."""

from __future__ import annotations

from dataclasses import dataclass
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


SUPPORTED = MARKDOWN | HTML | TEXT


def _sections_of(path: Path) -> list[drafts.Section]:
    raw = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix in MARKDOWN:
        return drafts.split_markdown(raw)
    if suffix in HTML:
        return drafts.split_markdown(html_to_markdown(raw))
    return drafts.split_plain(raw)


@dataclass(frozen=True)
class ImportReport:
    written: tuple[Path, ...]
    #: (file, why it was skipped)
    skipped: tuple[tuple[Path, str], ...]


def _files(paths: list[Path]) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(file, name stem for its drafts) to import, and (file, reason) skipped.

    Files found in a folder are named by their path inside it (`team-a/faq.md` -> `team-a-faq`),
    so same-named files from different folders stay apart.
    """
    found: list[tuple[Path, str]] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() not in SUPPORTED:
                    skipped.append((child, f"unsupported file type {child.suffix.lower()!r}"))
                    continue
                found.append((child, str(child.relative_to(path).with_suffix(""))))
        elif path.suffix.lower() not in SUPPORTED:
            kind = path.suffix.lower()
            raise UsageError(f"{path}: unsupported file type {kind!r} (Markdown, HTML or plain text)")
        else:
            found.append((path, path.stem))
    stems: dict[str, Path] = {}
    named: list[tuple[Path, str]] = []
    for path, name in found:
        stem = drafts.slug(name)
        if stem in stems and stems[stem] != path:
            stem = drafts.slug(f"{path.parent.name}-{name}")
            while stem in stems:
                stem = f"{stem}-x"
        stems[stem] = path
        named.append((path, stem))
    return named, skipped


def import_docs(paths: list[Path], target: Path) -> ImportReport:
    """One draft file per section; existing drafts are never overwritten (and are reported)."""
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    files, skipped = _files(paths)
    for path, stem in files:
        try:
            sections = _sections_of(path)
        except UnicodeDecodeError:
            skipped.append((path, "not UTF-8 text; convert it first"))
            continue
        if not sections:
            skipped.append((path, "no headings or questions to split on (or too little text under them)"))
            continue
        for number, section in enumerate(sections, start=1):
            entry_id = f"draft-{stem}-{number}"
            out = target / f"{entry_id}.md"
            if out.exists():
                skipped.append((out, "draft already exists; not overwritten (someone may be editing it)"))
                continue
            out.write_text(
                drafts.render_draft(section, entry_id=entry_id, source=path.name), encoding="utf-8"
            )
            written.append(out)
    return ImportReport(written=tuple(written), skipped=tuple(skipped))
