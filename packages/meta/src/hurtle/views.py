"""``hurtle.views``: class-based views (see ``hurtle_http.views``)."""

from hurtle_http.views import HTTPMethodView

__all__ = ["HTTPMethodView"]
