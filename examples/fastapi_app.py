"""A FastAPI app under Hurtle: two workers, the inspector with custom commands, and a
counter shared by every worker.

    hurtle serve examples/fastapi_app.py:host --workers 2 --inspector
    # or: python examples/fastapi_app.py
    curl http://127.0.0.1:8000/hit          # {"hits": 1, "worker": "Hurtle-Server-0-0"}
    curl http://127.0.0.1:8000/workers      # every process's state, read in the worker
    hurtle inspect hits                     # a custom inspector command: the counter
    hurtle inspect reset                    # another: set it back to 0
    hurtle inspect scale 3 --wait           # the built-in commands work as for any app

``api`` is a plain FastAPI app (``hurtle serve examples/fastapi_app.py:api`` serves it
too). ``host`` wraps it in an ``AsgiHost``, its handle on Hurtle's process features:
``host.shared_ctx`` (objects made in ``main_process_start``), ``host.m`` (this worker's
name, every process's state, restart/scale), and the inspector settings.
"""

import multiprocessing
import os

from fastapi import FastAPI

from hurtle import AsgiHost
from hurtle_inspector import Inspector

api = FastAPI(title="counter")


class CounterInspector(Inspector):
    """The built-in inspector commands plus ``hits`` and ``reset``."""

    async def hits(self) -> dict[str, int]:
        """The shared counter."""
        return {"hits": self.multiplexer.shared_ctx.hits.value}

    async def reset(self) -> dict[str, int]:
        """Set the shared counter back to 0; returns what it was."""
        counter = self.multiplexer.shared_ctx.hits
        with counter.get_lock():
            before, counter.value = counter.value, 0
        return {"was": before}


host = AsgiHost(api, name="counter", inspector_class=CounterInspector)


@host.main_process_start
def create_counter(app: AsgiHost) -> None:
    app.shared_ctx.hits = multiprocessing.Value("i", 0)


@api.get("/hit")
async def hit() -> dict[str, object]:
    """Increment the counter every worker shares."""
    counter = host.shared_ctx.hits
    with counter.get_lock():
        counter.value += 1
        value = counter.value
    return {"hits": value, "worker": host.m.name}


@api.get("/workers")
async def workers() -> dict[str, object]:
    """Every process's state entry (a local read: no round trip to the main process)."""
    return {"worker": host.m.name, "workers": host.m.workers}


@api.post("/scale/{replicas}")
async def scale(replicas: int) -> dict[str, object]:
    """Ask the manager for ``replicas`` server workers (what ``hurtle inspect scale`` does)."""
    result = await host.m.scale(replicas)
    return {"replicas": result.replicas, "workers": result.workers}


if __name__ == "__main__":
    host.run(port=int(os.environ.get("HURTLE_DEMO_PORT", "8000")), workers=2, inspector=True)
