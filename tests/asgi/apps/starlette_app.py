"""The Starlette app of tests/asgi: every route of the shared contract (see test_frameworks.py)."""

import asyncio
import hashlib
import os
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

done: list[str] = []


@asynccontextmanager
async def lifespan(app):
    yield {"started_by": f"starlette-lifespan-{os.getpid()}"}


async def params(request: Request):
    query = request.query_params
    return JSONResponse(
        {
            "item": request.path_params["item"],
            "q": query.get("q", ""),
            "n": int(query.get("n", "0")),
        }
    )


async def echo_json(request: Request):
    return JSONResponse({"received": await request.json()})


async def numbers(request: Request):
    async def chunks():
        for i in range(10):
            yield f"{i}\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


async def events(request: Request):
    async def feed():
        for i in range(3):
            yield f'id: {i}\nevent: tick\ndata: {{"n": {i}}}\n\n'
            await asyncio.sleep(0.01)

    return StreamingResponse(feed(), media_type="text/event-stream")


async def upload(request: Request):
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse({"size": size, "sha256": digest.hexdigest()})


async def download(request: Request):
    size = int(request.query_params["size"])
    block = bytes(range(256)) * 256

    async def blocks():
        left = size
        while left > 0:
            part = block[: min(left, len(block))]
            left -= len(part)
            yield part

    return StreamingResponse(blocks(), media_type="application/octet-stream")


async def background(request: Request):
    if request.method == "GET":
        return JSONResponse({"done": done})
    token = request.query_params["token"]
    return JSONResponse({"scheduled": token}, background=BackgroundTask(done.append, token))


async def lifespan_state(request: Request):
    return JSONResponse({"started_by": request.state.started_by})


async def error(request: Request):
    raise RuntimeError("boom")


async def teapot(request: Request):
    return JSONResponse({"short": "stout"}, status_code=418, headers={"x-kind": "teapot"})


async def echo(ws: WebSocket):
    await ws.accept()
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            text = message["text"]
            if text.startswith("close:"):
                await ws.close(code=int(text[6:]), reason="bye")
                return
            await ws.send_text(text)
        else:
            await ws.send_bytes(message["bytes"])


async def deny(ws: WebSocket):
    await ws.close()


app = Starlette(
    routes=[
        Route("/params/{item}", params),
        Route("/json", echo_json, methods=["POST"]),
        Route("/stream", numbers),
        Route("/sse", events),
        Route("/upload", upload, methods=["POST"]),
        Route("/download", download),
        Route("/background", background, methods=["GET", "POST"]),
        Route("/lifespan", lifespan_state),
        Route("/error", error),
        Route("/teapot", teapot),
        WebSocketRoute("/ws", echo),
        WebSocketRoute("/ws-deny", deny),
    ],
    lifespan=lifespan,
)
