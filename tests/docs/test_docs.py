"""The guide cannot rot: every runnable block of docs/ runs, page by page.

See ``docblocks.py`` for the markers. Each page is one test: its files are written, its
servers started and answered over real sockets, its commands run and their output checked,
then everything it started is stopped by pid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docblocks import (
    DOCS,
    FENCE,
    RUNNABLE_LANGS,
    Session,
    blocks,
    output_matches,
    runnable_pages,
)

# The chapters whose every shell and Python block must be marked (run, or skipped with a
# reason). Other pages may hold illustrative blocks.
GUIDE = [
    "index.md",
    "getting-started.md",
    "guide/worker-manager.md",
    "guide/inspector.md",
    "guide/worker-manager-alone.md",
    "guide/asgi.md",
    "coming-from-sanic.md",
    "deploy/README.md",
]


@pytest.mark.parametrize("page", list(runnable_pages()), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_runs(page: Path, tmp_path: Path) -> None:
    session = Session(tmp_path)
    try:
        for block in blocks(page):
            if block.kind not in (None, "skip"):
                session.run_block(block)
        if session.started:
            session.stop(session.started.block)
    finally:
        session.close()


@pytest.mark.parametrize("name", GUIDE)
def test_every_block_of_the_guide_is_marked(name: str) -> None:
    page = DOCS / name
    unmarked = [b.where for b in blocks(page) if b.lang in RUNNABLE_LANGS and b.kind is None]
    assert not unmarked, f"mark these blocks (see tests/docs/docblocks.py): {unmarked}"
    skipped = [b.where for b in blocks(page) if b.kind == "skip" and not b.arg.startswith(":")]
    assert not skipped, f"say why these blocks are skipped ('test: skip: WHY'): {skipped}"


def test_there_are_runnable_pages() -> None:
    assert len(list(runnable_pages())) >= 4


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ("a\nb", "a\nb\n", True),
        ("a ... c", "a bbb c", True),
        ("a\n...\nd", "a\nb\nc\nd", True),
        ("a\nb", "a\nc", False),
        ("a", "a\nextra", False),
        ('{"x": 1}', '{"x": 1}  ', True),
    ],
)
def test_output_matching(expected: str, actual: str, matches: bool) -> None:
    assert output_matches(expected, actual) is matches


def prose(page: Path) -> str:
    """The page without its fenced code blocks (whose lines are blanked)."""
    lines, fence = [], ""
    for line in page.read_text().splitlines():
        opening = FENCE.match(line)
        if fence:
            fence = "" if line.strip() == fence else fence
            lines.append("")
        elif opening:
            fence = opening["ticks"]
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: str(p.relative_to(DOCS)))
def test_no_code_span_across_lines_holds_a_tag(page: Path) -> None:
    # Markdown reads `<main pid>` at the start of a line as an HTML tag even inside a
    # code span opened on the line before: the rest of the page would become raw text.
    text, spans, at = prose(page), [], 0
    while opening := re.compile(r"`+").search(text, at):
        closing = text.find(opening[0], opening.end())
        if closing == -1:
            at = opening.end()
            continue
        spans.append(text[opening.end() : closing])
        at = closing + len(opening[0])
    tagged = [span for span in spans if "\n" in span and re.search(r"<[A-Za-z]", span)]
    assert not tagged, f"keep these code spans on one line: {tagged}"
