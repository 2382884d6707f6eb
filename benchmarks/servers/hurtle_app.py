"""hurtle-http: the hello, path-parameter and echo routes, single process, no access log.

Run: `python hurtle_app.py PORT`. Uses only the public API of `hurtle_http`: `HttpApp`, its
route decorators (path parameters passed to the handler by name), `Request.body`, `json`,
`raw`, `HTTPResponse` and `HttpApp.run(host=..., port=..., access_log=False)`.
"""

from __future__ import annotations

import sys

from hurtle_http import HttpApp, HTTPResponse, Request, json, raw

app = HttpApp("hurtle_bench")


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
    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
