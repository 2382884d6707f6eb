"""An app built by a factory (``hurtle serve factory_app:create --factory``)."""

from hurtle import Hurtle, text


def create() -> Hurtle:
    app = Hurtle("from_factory")

    @app.get("/")
    async def index(request):
        return text("made by a factory")

    return app
