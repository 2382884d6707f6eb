"""The FastAPI app of tests/asgi: every route of the shared contract (see test_frameworks.py)."""

import asyncio
import hashlib
import os
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse

done: list[str] = []


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield {"started_by": f"fastapi-lifespan-{os.getpid()}"}


app = FastAPI(lifespan=lifespan)


@app.get("/params/{item}")
async def params(item: str, q: str = "", n: int = 0):
    return {"item": item, "q": q, "n": n}


@app.post("/json")
async def echo_json(request: Request):
    return {"received": await request.json()}


@app.get("/stream")
async def numbers():
    async def chunks():
        for i in range(10):
            yield f"{i}\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/sse")
async def events():
    async def feed():
        for i in range(3):
            yield f'id: {i}\nevent: tick\ndata: {{"n": {i}}}\n\n'
            await asyncio.sleep(0.01)

    return StreamingResponse(feed(), media_type="text/event-stream")


@app.post("/upload")
async def upload(request: Request):
    digest, size = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


@app.get("/download")
async def download(size: int):
    block = bytes(range(256)) * 256

    async def blocks():
        left = size
        while left > 0:
            part = block[: min(left, len(block))]
            left -= len(part)
            yield part

    return StreamingResponse(blocks(), media_type="application/octet-stream")


@app.post("/background")
async def later(background: BackgroundTasks, token: str):
    background.add_task(done.append, token)
    return {"scheduled": token}


@app.get("/background")
async def finished():
    return {"done": done}


@app.get("/lifespan")
async def lifespan_state(request: Request):
    return {"started_by": request.state.started_by}


@app.get("/error")
async def error():
    raise RuntimeError("boom")


@app.get("/teapot")
async def teapot():
    return JSONResponse({"short": "stout"}, status_code=418, headers={"x-kind": "teapot"})


@app.websocket("/ws")
async def echo(ws: WebSocket):
    await ws.accept()
    try:
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
    except WebSocketDisconnect:
        return


@app.websocket("/ws-deny")
async def deny(ws: WebSocket):
    await ws.close()
