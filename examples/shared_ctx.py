"""Shared context: one counter and one queue shared by every worker process.

    python examples/shared_ctx.py
    curl http://127.0.0.1:8000/hit      # a counter all workers increment
    curl http://127.0.0.1:8000/jobs     # the jobs queued so far, drained by whoever asks

Shared objects are created in the main process, in ``main_process_start`` (the only
place where ``app.shared_ctx`` may be set), and reach every worker, every generation.
"""

import multiprocessing
import os
import queue

from hurtle import Hurtle, Request, json

app = Hurtle("shared")


@app.main_process_start
def create_shared_objects(app: Hurtle) -> None:
    app.shared_ctx.hits = multiprocessing.Value("i", 0)
    app.shared_ctx.jobs = multiprocessing.Queue()


@app.get("/hit")
async def hit(request: Request):
    """Increment the shared counter; every worker sees the same value."""
    hits = app.shared_ctx.hits
    with hits.get_lock():
        hits.value += 1
        value = hits.value
    app.shared_ctx.jobs.put(f"hit {value} by {app.m.name}")
    return json({"hits": value, "worker": app.m.name})


@app.get("/jobs")
async def jobs(request: Request):
    """Drain the shared queue."""
    drained = []
    while True:
        try:
            drained.append(app.shared_ctx.jobs.get_nowait())
        except queue.Empty:
            return json({"jobs": drained, "worker": app.m.name})


if __name__ == "__main__":
    app.run(port=int(os.environ.get("HURTLE_DEMO_PORT", "8000")), workers=3)
