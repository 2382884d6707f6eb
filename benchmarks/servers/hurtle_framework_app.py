"""hurtle-http with the framework in use: the bench routes of hurtle_app.py plus a
blueprint group (two versioned blueprints, their middleware and exception handler), an
app-level request and response middleware, a signal handler and a background task.

Run: `python hurtle_framework_app.py PORT`. The hello, user and echo routes are the same as
hurtle_app.py's, so the difference measures what the registered framework pieces cost.
"""

from __future__ import annotations

import asyncio
import sys

from hurtle_http import Blueprint, HttpApp, HTTPResponse, NotFound, Request, json, raw, text

app = HttpApp("hurtle_framework_bench")


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


@app.on_request
async def app_request(request: Request) -> None:
    """A request middleware that does nothing (its cost is measured)."""


@app.on_response
async def app_response(request: Request, response: HTTPResponse) -> None:
    """A response middleware that does nothing (its cost is measured)."""


items = Blueprint("items", url_prefix="/items", version=1)
orders = Blueprint("orders", url_prefix="/orders")
for index in range(10):
    items.add_route(lambda request, index=index: text(str(index)), f"/i{index}", name=f"i{index}")
    orders.add_route(lambda request, index=index: text(str(index)), f"/o{index}", name=f"o{index}")


@items.on_request
def items_only(request: Request) -> None:
    request.ctx.items = True


@orders.exception(NotFound)
def orders_missing(request: Request, exc: Exception) -> HTTPResponse:
    return text("no order", 404)


app.blueprint(Blueprint.group(items, orders, url_prefix="/api", version=2))


@app.signal("bench.order.placed")
async def placed(order: int) -> None:
    """A signal handler nobody dispatches during the benchmark."""


async def idle(app: HttpApp) -> None:
    """A background task that waits forever (cancelled at stop)."""
    await asyncio.Event().wait()


app.add_task(idle, name="idle")

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
