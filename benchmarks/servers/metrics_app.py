"""A Hurtle app with N fork workers and the inspector, for metrics_bench.py --live N.

Usage: ``python servers/metrics_app.py N``; the inspector listens on 127.0.0.1, a free port
(read it from the "Inspector listening on" log line).
"""

from __future__ import annotations

import sys

from hurtle import Hurtle, Request, text

app = Hurtle("metricsbench")
app.config.INSPECTOR = True
app.config.INSPECTOR_HOST = "127.0.0.1"
app.config.INSPECTOR_PORT = 0
app.config.ACCESS_LOG = False


@app.get("/")
async def index(request: Request):
    return text("ok")


if __name__ == "__main__":
    Hurtle.start_method = "fork"
    app.run(port=0, workers=int(sys.argv[1]))
