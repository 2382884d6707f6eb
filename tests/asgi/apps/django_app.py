"""The Django (ASGI) app of tests/asgi: the HTTP routes of the shared contract.

One file: settings, views and URLs. Django has no lifespan protocol and no WebSockets of
its own (that is Channels), so those routes are absent; "auto" lifespan must cope.
"""

import asyncio
import hashlib
import os

import django
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="tests-only-not-a-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    DATA_UPLOAD_MAX_MEMORY_SIZE=None,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    LOGGING_CONFIG=None,
)
django.setup()

STARTED_BY = f"django-import-{os.getpid()}"


async def params(request, item):
    return JsonResponse(
        {"item": item, "q": request.GET.get("q", ""), "n": int(request.GET.get("n", "0"))}
    )


async def echo_json(request):
    import json

    return JsonResponse({"received": json.loads(request.body)})


async def numbers(request):
    async def chunks():
        for i in range(10):
            yield f"{i}\n"
            await asyncio.sleep(0.01)

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def events(request):
    async def feed():
        for i in range(3):
            yield f'id: {i}\nevent: tick\ndata: {{"n": {i}}}\n\n'
            await asyncio.sleep(0.01)

    return StreamingHttpResponse(feed(), content_type="text/event-stream")


async def upload(request):
    body = request.body
    return JsonResponse({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})


async def download(request):
    size = int(request.GET["size"])
    block = bytes(range(256)) * 256

    async def blocks():
        left = size
        while left > 0:
            part = block[: min(left, len(block))]
            left -= len(part)
            yield part

    return StreamingHttpResponse(blocks(), content_type="application/octet-stream")


async def lifespan_state(request):
    return JsonResponse({"started_by": STARTED_BY})


async def error(request):
    raise RuntimeError("boom")


async def teapot(request):
    response = JsonResponse({"short": "stout"}, status=418)
    response["x-kind"] = "teapot"
    return response


urlpatterns = [
    path("params/<str:item>", params),
    path("json", echo_json),
    path("stream", numbers),
    path("sse", events),
    path("upload", upload),
    path("download", download),
    path("lifespan", lifespan_state),
    path("error", error),
    path("teapot", teapot),
]

from django.core.asgi import get_asgi_application  # noqa: E402

app = get_asgi_application()
