"""An app for the auto-reload test; the test rewrites VERSION in this file's copy."""

import sys

from hurtle import Hurtle, text

VERSION = "v1"

app = Hurtle("reloadable")


@app.get("/")
async def index(request):
    return text(VERSION)


@app.get("/reloaded")
async def reloaded(request):
    return text(app.config.RELOADED_FILES)


if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1])
    if "--start-method" in sys.argv:
        Hurtle.start_method = sys.argv[sys.argv.index("--start-method") + 1]
    app.run(port=port, workers=1, auto_reload=True)
