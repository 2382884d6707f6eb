"""A Sanic app's imports work after the rename ``sanic`` -> ``hurtle``."""

from __future__ import annotations

import logging
from typing import Any

import pytest


def test_the_reference_modules_and_names_import() -> None:
    from hurtle import Blueprint, HTTPMethodView, Hurtle, HurtleException, response
    from hurtle.blueprints import BlueprintGroup
    from hurtle.exceptions import (
        BadRequest,
        HTTPException,
        InvalidUsage,
        NotFound,
        ServerError,
    )
    from hurtle.log import LOGGING_CONFIG_DEFAULTS, access_logger, error_logger, logger
    from hurtle.request import Request, RequestParameters
    from hurtle.views import HTTPMethodView as View

    assert Request.__name__ == "Request" and RequestParameters().getlist("x") == []

    assert View is HTTPMethodView
    assert isinstance(Blueprint.group(Blueprint("a")), BlueprintGroup)
    assert issubclass(ServerError, HTTPException) and ServerError.status_code == 500
    for klass in (NotFound, BadRequest, ServerError):
        assert issubclass(klass, HurtleException)
    assert InvalidUsage is BadRequest
    teapot = HurtleException("I'm a teapot", status_code=418, context={"tea": "earl grey"})
    assert teapot.status_code == 418 and teapot.context == {"tea": "earl grey"}
    assert {logger.name, access_logger.name, error_logger.name} == {
        "hurtle.root",
        "hurtle.access",
        "hurtle.error",
    }
    assert LOGGING_CONFIG_DEFAULTS["version"] == 1
    for helper in ("text", "json", "html", "raw", "redirect", "empty", "file", "file_stream"):
        assert callable(getattr(response, helper))
    assert response.json({"a": 1}).body == b'{"a":1}'
    assert Hurtle is not None


def test_hurtle_takes_strict_slashes_and_log_config(monkeypatch: Any) -> None:
    from hurtle import Hurtle
    from hurtle.log import LOGGING_CONFIG_DEFAULTS

    names = ("hurtle.root", "hurtle.error", "hurtle.access", "hurtle.server")
    saved = {
        n: (
            list(logging.getLogger(n).handlers),
            logging.getLogger(n).propagate,
            logging.getLogger(n).level,
        )
        for n in names
    }
    access = logging.getLogger("hurtle.access")
    try:
        app = Hurtle("sanic_names", strict_slashes=True, log_config=LOGGING_CONFIG_DEFAULTS)

        @app.get("/x")
        async def handler(request: Any) -> Any:
            return None

        assert app.router.resolve("GET", "/x")
        with pytest.raises(Exception, match="not found"):
            app.router.resolve("GET", "/x/")
        assert access.handlers and access.propagate is False
    finally:
        for name, (handlers, propagate, level) in saved.items():
            restored = logging.getLogger(name)
            restored.handlers[:] = handlers
            restored.propagate = propagate
            restored.setLevel(level)


def test_get_app_finds_the_app_by_name() -> None:
    from hurtle import Hurtle, HurtleError

    app = Hurtle("get_app_test")
    assert Hurtle.get_app("get_app_test") is app
    with pytest.raises(HurtleError, match="No Hurtle app named 'nope'"):
        Hurtle.get_app("nope")
    made = Hurtle.get_app("get_app_made", force_create=True)
    assert isinstance(made, Hurtle) and Hurtle.get_app("get_app_made") is made
    with pytest.raises(HurtleError, match="Several Hurtle apps"):
        Hurtle.get_app()
