"""Hello, Hurtle: two workers and the inspector on localhost.

    python examples/hello.py            # http://127.0.0.1:8000, inspector on localhost:6457
    curl http://127.0.0.1:8000/         # which worker answered
    curl http://127.0.0.1:8000/workers  # the state of every process, read locally
    curl http://localhost:6457/         # the inspector: app info and processes

The port comes from ``HURTLE_DEMO_PORT`` (0 = any free port, printed at start). Stop with
Ctrl-C: every worker drains its requests and the main process exits 0.
"""

import os

from hurtle import Hurtle, Request, json

app = Hurtle("hello", inspector=True)


@app.get("/")
async def hello(request: Request):
    """Say hello, and which worker process answered."""
    return json({"hello": "world", "worker": app.m.name, "pid": app.m.pid})


@app.get("/workers")
async def workers(request: Request):
    """Every process the manager runs, with its state (a local read, no round trip)."""
    return json(app.m.workers)


if __name__ == "__main__":
    app.run(port=int(os.environ.get("HURTLE_DEMO_PORT", "8000")), workers=2)
