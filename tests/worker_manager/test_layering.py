"""hurtle_worker_manager stands alone: importing it loads no HTTP, CLI or sibling code."""

import json
import subprocess
import sys

FORBIDDEN = (
    "httptools",
    "uvloop",
    "click",
    "hurtle_http",
    "hurtle_inspector",
    "hurtle_cli",
    "hurtle",
)


def test_import_loads_no_forbidden_module() -> None:
    """Everything the package exports (its modules load on first use: see its __init__)."""
    probe = (
        "import json, sys; from hurtle_worker_manager import *; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "hurtle_worker_manager" in loaded
    assert "msgspec" in loaded
    assert loaded.isdisjoint(FORBIDDEN), sorted(loaded.intersection(FORBIDDEN))
