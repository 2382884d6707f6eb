"""The meta-package installs the whole set of siblings at the pinned versions."""

from importlib.metadata import requires, version

import hurtle


def test_meta_requirements_are_satisfied_exactly() -> None:
    assert hurtle.__version__ == version("hurtle")
    pins = [req.split("==") for req in requires("hurtle") or []]
    assert {name for name, _ in pins} == {
        "hurtle-worker-manager",
        "hurtle-http",
        "hurtle-inspector",
        "hurtle-cli",
    }
    for name, pinned in pins:
        assert version(name) == pinned, f"{name} {version(name)} installed, meta pins {pinned}"
