"""Sanic: the hello, path-parameter and echo routes, single process, no access log.

Run: `python sanic_app.py PORT`.
"""

from __future__ import annotations

import sys

from sanic import HTTPResponse, Request, Sanic
from sanic.response import json, raw

app = Sanic("hurtle_bench")


@app.get("/")
async def hello(request: Request) -> HTTPResponse:
    """The JSON hello world."""
    return json({"hello": "world"})


@app.get("/user/<user_id:int>")
async def user(request: Request, user_id: int) -> HTTPResponse:
    """A typed path parameter, echoed as JSON."""
    return json({"id": user_id})


@app.post("/echo")
async def echo(request: Request) -> HTTPResponse:
    """The request body, returned as is."""
    return raw(request.body)


if __name__ == "__main__":
    app.run(
        host="127.0.0.1",
        port=int(sys.argv[1]),
        single_process=True,
        access_log=False,
        debug=False,
        motd=False,
    )
