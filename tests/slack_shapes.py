"""A pytest plugin: `python -m pytest -p tests.slack_shapes` ends with how many distinct message
shapes (block-type sequences, `("text",)` for plain text) the strict Slack server checked, so a
run says how much of Block Kit the Slack tests exercised. `-v` lists them."""

from __future__ import annotations

from typing import Any

from tests.slack_harness import SHAPES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    checked = sum(SHAPES.values())
    terminalreporter.write_line(
        f"strict Slack server: {len(SHAPES)} distinct message shapes checked ({checked} messages)"
    )
    if terminalreporter.config.option.verbose > 0:
        for shape, count in SHAPES.most_common():
            terminalreporter.write_line(f"  {count:5d}  {' '.join(shape)}")
