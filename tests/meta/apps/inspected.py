"""An app with the inspector and a custom inspector command (run as a script)."""

from __future__ import annotations

import asyncio
import os
import sys

from hurtle import Hurtle, Request, json
from hurtle_inspector import Inspector


class AppInspector(Inspector):
    """Adds one command: ``POST /echo`` returns its arguments."""

    def echo(self, *args: str, **kwargs: object) -> dict[str, object]:
        return {"args": list(args), "kwargs": kwargs}


app = Hurtle("inspected", inspector=True, inspector_class=AppInspector)


@app.get("/")
async def index(request: Request):
    return json({"name": app.m.name})


@app.get("/workers")
async def workers(request: Request):
    return json(app.m.workers)


@app.main_process_stop
async def linger(app: Hurtle) -> None:
    """``TEST_STOP_DELAY`` seconds more of shutdown, so a test can reach it deterministically."""
    await asyncio.sleep(float(os.environ.get("TEST_STOP_DELAY", "0")))


if __name__ == "__main__":
    for method in ("fork", "forkserver"):
        if f"--{method}" in sys.argv:
            Hurtle.start_method = method
    app.run(port=int(sys.argv[sys.argv.index("--port") + 1]), workers=2)
