"""A custom managed process beside the HTTP workers.

    python examples/custom_process.py
    curl -X POST http://127.0.0.1:8000/tasks -d 'resize photo.jpg'   # queue a task
    curl http://127.0.0.1:8000/done                                 # what the process did

``Hurtle-Tasks-0`` is registered in ``main_process_ready`` with ``app.manager.manage``.
It appears in ``app.m.workers`` like the server workers, is stopped with them, and is
respawned if it crashes. It takes tasks from a shared queue and reports its progress
into its own state entry with ``multiplexer.report`` (no round trip for readers).
"""

import multiprocessing
import os
import queue

from hurtle import Hurtle, Request, json, text
from hurtle_worker_manager import get_multiplexer

app = Hurtle("custom")


@app.main_process_start
def create_queue(app: Hurtle) -> None:
    app.shared_ctx.tasks = multiprocessing.Queue()


@app.main_process_ready
def start_task_runner(app: Hurtle) -> None:
    app.manager.manage("Tasks", run_tasks, {"name": "photos"}, transient=True)


def run_tasks(name: str) -> None:
    """The custom process: runs until the manager stops it (KeyboardInterrupt)."""
    multiplexer = get_multiplexer()
    tasks = multiplexer.shared_ctx.tasks
    done: list[str] = []
    try:
        while True:
            try:
                task = tasks.get(timeout=0.5)
            except queue.Empty:
                multiplexer.heartbeat()
                continue
            done.append(f"{name}: {task}")
            multiplexer.report("tasks", {"done": done[-20:], "count": len(done)})
    except KeyboardInterrupt:
        pass


@app.post("/tasks")
async def add_task(request: Request):
    app.shared_ctx.tasks.put(request.body.decode() or "nothing")
    return text("queued\n", status=202)


@app.get("/done")
async def done(request: Request):
    entry = app.m.workers.get("Hurtle-Tasks-0", {})
    return json({"state": entry.get("state"), **entry.get("tasks", {"done": [], "count": 0})})


if __name__ == "__main__":
    app.run(port=int(os.environ.get("HURTLE_DEMO_PORT", "8000")), workers=2)
