"""docs/architecture.md stays true: every module it names exists, every room is listed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"

# Import name -> source folder of each package.
PACKAGES = {
    "hurtle_worker_manager": ROOT / "packages/worker-manager/src/hurtle_worker_manager",
    "hurtle_http": ROOT / "packages/core-http/src/hurtle_http",
    "hurtle_inspector": ROOT / "packages/inspector/src/hurtle_inspector",
    "hurtle_cli": ROOT / "packages/cli/src/hurtle_cli",
    "hurtle": ROOT / "packages/meta/src/hurtle",
}
_QUALIFIED = re.compile(r"\b(hurtle(?:_[a-z_]+)?)/([A-Za-z_]\w*)\.py\b")
_SECTION = re.compile(r"^### (hurtle\w*) ", re.MULTILINE)
_ROOM = re.compile(r"`([A-Za-z_]\w*)\.py`")


def _sections(text: str) -> dict[str, str]:
    """The text of each package's "Rooms" section, by import name."""
    marks = list(_SECTION.finditer(text))
    end_of_rooms = text.index("## The path of a request")
    sections = {}
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        stop = after.start() if after is not None else end_of_rooms
        sections[mark.group(1)] = text[mark.end() : stop]
    return sections


def test_every_module_the_paths_name_exists() -> None:
    text = DOC.read_text()
    named = set(_QUALIFIED.findall(text))
    assert len(named) > 20, "the paths name their modules as package/module.py"
    missing = sorted(
        f"{package}/{module}.py"
        for package, module in named
        if package not in PACKAGES or not (PACKAGES[package] / f"{module}.py").is_file()
    )
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_the_rooms_list_every_module_of_every_package_and_nothing_else() -> None:
    sections = _sections(DOC.read_text())
    assert set(sections) == set(PACKAGES)
    for package, folder in PACKAGES.items():
        listed = set(_ROOM.findall(sections[package]))
        present = {p.stem for p in folder.glob("*.py")} - {"__init__", "__about__", "__main__"}
        assert listed - present == set(), f"{package}: listed but gone: {listed - present}"
        assert present - listed == set(), f"{package}: not in the rooms: {present - listed}"
