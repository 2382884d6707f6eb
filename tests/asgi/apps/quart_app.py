"""The Quart app of tests/asgi: every route of the shared contract (see test_frameworks.py)."""

import asyncio
import hashlib
import os

from quart import Quart, jsonify, request, websocket

app = Quart(__name__)
app.config["MAX_CONTENT_LENGTH"] = None
app.config["BODY_TIMEOUT"] = 120
done: list[str] = []
started: dict[str, str] = {}


@app.before_serving
async def startup():
    started["by"] = f"quart-lifespan-{os.getpid()}"


@app.get("/params/<item>")
async def params(item):
    return {"item": item, "q": request.args.get("q", ""), "n": int(request.args.get("n", "0"))}


@app.post("/json")
async def echo_json():
    return {"received": await request.get_json()}


@app.get("/stream")
async def numbers():
    async def chunks():
        for i in range(10):
            yield f"{i}\n".encode()
            await asyncio.sleep(0.01)

    return chunks(), 200, {"content-type": "text/plain"}


@app.get("/sse")
async def events():
    async def feed():
        for i in range(3):
            yield f'id: {i}\nevent: tick\ndata: {{"n": {i}}}\n\n'.encode()
            await asyncio.sleep(0.01)

    return feed(), 200, {"content-type": "text/event-stream"}


@app.post("/upload")
async def upload():
    digest, size = hashlib.sha256(), 0
    async for chunk in request.body:
        digest.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


@app.get("/download")
async def download():
    size = int(request.args["size"])
    block = bytes(range(256)) * 256

    async def blocks():
        left = size
        while left > 0:
            part = block[: min(left, len(block))]
            left -= len(part)
            yield part

    return blocks(), 200, {"content-type": "application/octet-stream"}


@app.post("/background")
async def later():
    token = request.args["token"]

    async def record():
        done.append(token)

    app.add_background_task(record)
    return {"scheduled": token}


@app.get("/background")
async def finished():
    return {"done": done}


@app.get("/lifespan")
async def lifespan_state():
    return {"started_by": started.get("by", "")}


@app.get("/error")
async def error():
    raise RuntimeError("boom")


@app.get("/teapot")
async def teapot():
    return jsonify({"short": "stout"}), 418, {"x-kind": "teapot"}


@app.websocket("/ws")
async def echo():
    await websocket.accept()
    while True:
        data = await websocket.receive()
        if isinstance(data, str) and data.startswith("close:"):
            await websocket.close(int(data[6:]), "bye")
            return
        await websocket.send(data)


@app.websocket("/ws-deny")
async def deny():
    await websocket.close(1000)
