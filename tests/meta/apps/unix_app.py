"""A Hurtle app served by two workers on one Unix socket: ``unix_app.py PATH``."""

from __future__ import annotations

import sys

from hurtle import Hurtle, Request, json

app = Hurtle("unixapp")


@app.get("/")
async def which(request: Request) -> object:
    return json({"worker": app.m.name})


if __name__ == "__main__":
    app.run(unix=sys.argv[1], workers=2)
