"""The meta-package pins its siblings exactly to the versions in this tree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIBLINGS = {
    "hurtle-worker-manager": "worker-manager/src/hurtle_worker_manager",
    "hurtle-http": "core-http/src/hurtle_http",
    "hurtle-inspector": "inspector/src/hurtle_inspector",
    "hurtle-cli": "cli/src/hurtle_cli",
}


def tree_version(package_dir: str) -> str:
    about = (ROOT / "packages" / package_dir / "__about__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', about, re.MULTILINE)
    assert match, f"no __version__ in {package_dir}/__about__.py"
    return match.group(1)


def test_meta_pins_every_sibling_to_the_tree_version() -> None:
    pyproject = (ROOT / "packages/meta/pyproject.toml").read_text()
    pins = dict(re.findall(r'^\s*"(hurtle-[a-z-]+)==([^"]+)",?$', pyproject, re.MULTILINE))
    expected = {dist: tree_version(path) for dist, path in SIBLINGS.items()}
    assert pins == expected, f"meta pins {pins} drifted from the tree {expected}"
