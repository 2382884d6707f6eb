"""The app the CLI end-to-end tests serve with ``hurtle serve cli_e2e_app:app``.

A custom inspector command ``something`` echoes what it received; the HTTP route says
which worker answered. Settings (ports, TLS, API key) come from ``HURTLE_*`` variables.
"""

import os

from hurtle import Hurtle, Request, json
from hurtle_inspector import Inspector


class CliInspector(Inspector):
    """The default commands plus one custom command."""

    async def something(self, *args, **kwargs):
        """Echo the positional and keyword arguments."""
        return {"args": list(args), "kwargs": kwargs}


app = Hurtle("clie2e", inspector_class="cli_e2e_app:CliInspector")


@app.get("/")
async def hello(request: Request):
    """Which worker answered."""
    return json({"pid": os.getpid()})
