"""Hurtle for the adversarial round: N workers, the inspector, and the routes the round uses.

Run: `python adversarial_hurtle.py PORT [WORKERS [INSPECTOR_PORT]]`. Routes: `GET /`,
`GET /pid`, `GET /slow` (1 s), `GET /big` (1 MiB), `POST /upload` (ignores the body).
"""

from __future__ import annotations

import asyncio
import os
import sys

from hurtle import HTTPResponse, Hurtle, Request, json, raw

app = Hurtle("adversarial")
app.config.REQUEST_MAX_SIZE = 200 * 1024 * 1024
BIG = b"x" * (1024 * 1024)


@app.get("/")
async def hello(request: Request) -> HTTPResponse:
    return json({"hello": "world"})


@app.get("/pid")
async def pid(request: Request) -> HTTPResponse:
    return json({"pid": os.getpid()})


@app.get("/slow")
async def slow(request: Request) -> HTTPResponse:
    await asyncio.sleep(1.0)
    return json({"slept": 1.0})


@app.get("/big")
async def big(request: Request) -> HTTPResponse:
    return raw(BIG)


@app.post("/upload")
async def upload(request: Request) -> HTTPResponse:
    return json({"ignored": True})


if __name__ == "__main__":
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    if len(sys.argv) > 3:
        app.config.INSPECTOR = True
        app.config.INSPECTOR_HOST = "127.0.0.1"
        app.config.INSPECTOR_PORT = int(sys.argv[3])
    app.run(host="127.0.0.1", port=int(sys.argv[1]), workers=workers, access_log=False)
