"""A factory of ASGI apps, for ``hurtle serve probe_factory:make --factory``."""

import json
import os


def make():
    built_in = os.getpid()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = json.dumps({"pid": os.getpid(), "built_in": built_in}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app
