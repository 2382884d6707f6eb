"""An app whose script starts the server without the ``__main__`` guard (a mistake)."""

import sys

from hurtle import Hurtle, text

app = Hurtle("unguarded")


@app.get("/")
async def index(request):
    return text("never served")


app.run(port=int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0)
