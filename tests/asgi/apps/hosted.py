"""An ASGI app inside an ``AsgiHost`` that forks its workers and uses Hurtle's process
features: a shared counter made in ``main_process_start``, ``host.m`` in a request.
``HOSTED_START_METHOD`` (default ``fork``) chooses the start method.
"""

import json
import multiprocessing
import os

from hurtle import AsgiHost


async def api(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    counter = host.shared_ctx.hits
    with counter.get_lock():
        counter.value += 1
        hits = counter.value
    body = json.dumps(
        {
            "hits": hits,
            "worker": host.m.name,
            "servers": sorted(
                name for name, entry in host.m.workers.items() if entry.get("server")
            ),
        }
    ).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class ForkingHost(AsgiHost):
    start_method = os.environ.get("HOSTED_START_METHOD", "fork")


host = ForkingHost(api, name="hosted")


@host.main_process_start
def make_counter(app):
    app.shared_ctx.hits = multiprocessing.Value("i", 0)
