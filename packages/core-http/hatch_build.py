"""Compiles hurtle-http's per-request modules with mypyc when a wheel is built.

The compiled modules are the same source as the pure-Python ones, built into extension
modules that Python imports in their place (an extension module comes before a ``.py`` of
the same name). ``HURTLE_COMPILE`` chooses: ``auto`` (the default) compiles when it can and
installs pure Python, with a warning, when it cannot (no C compiler); ``1`` fails the build
instead; ``0`` never compiles. An editable install is never compiled, so that an edit takes
effect at once. Why, and what it buys: ``docs/design-notes.md``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "hurtle_http"

# The modules a request runs through (the connection, parsing, writing, the request and
# response objects, routing, dispatch, ASGI). The rest stays interpreted: compiling it
# would buy nothing per request.
COMPILED = (
    "_asgi_http",
    "_parsing",
    "_sink",
    "_state",
    "_wire",
    "app",
    "asgi",
    "protocol",
    "request",
    "response",
    "router",
)

_SETUP = """\
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="{package}",
    ext_modules=mypycify(
        ["--ignore-missing-imports", *{paths!r}], group_name="{package}", opt_level="3"
    ),
)
"""


class CompileHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled modules to a standard (non-editable) wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._work: str | None = None
        setting = os.environ.get("HURTLE_COMPILE", "auto").strip().lower()
        if self.target_name != "wheel" or version == "editable" or setting in ("0", "no"):
            return
        self._work = tempfile.mkdtemp(prefix="hurtle-mypyc-")
        try:
            built = compile_modules(Path(self.root) / "src" / PACKAGE, Path(self._work))
        except Exception as exc:
            if setting in ("1", "yes"):
                raise
            self.app.display_warning(
                f"hurtle-http: compiling with mypyc failed ({exc}); installing pure Python,"
                " which serves the same but slower. HURTLE_COMPILE=1 makes this an error."
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"].update(built)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_work", None):
            shutil.rmtree(self._work, ignore_errors=True)


def compile_modules(source: Path, work: Path) -> dict[str, str]:
    """Compile ``COMPILED`` from a copy of ``source`` in ``work``: each extension module
    built, mapped to its path in the wheel."""
    shutil.copytree(source, work / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    paths = [f"{PACKAGE}/{name}.py" for name in COMPILED]
    (work / "setup.py").write_text(_SETUP.format(package=PACKAGE, paths=paths))
    out = work / "out"
    process = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--build-lib", str(out), "--build-temp", "tmp"],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if process.returncode:
        raise RuntimeError(f"mypyc exited with {process.returncode}:\n{process.stdout[-4000:]}")
    built = {str(path): path.relative_to(out).as_posix() for path in out.rglob("*.so")}
    if len(built) <= len(COMPILED):  # one per module, and the runtime they share
        raise RuntimeError(f"mypyc built {len(built)} extension modules for {len(COMPILED)}")
    return built
