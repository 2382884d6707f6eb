"""The build under test: compiled with mypyc where the environment says it must be."""

from __future__ import annotations

import os

import pytest

from hurtle_http import HttpApp, HTTPResponse, Request, StreamingResponse, app, protocol, text
from hurtle_http._mypyc import compiled


@pytest.mark.skipif(
    os.environ.get("HURTLE_EXPECT_COMPILED") != "1", reason="a pure-Python (editable) install"
)
def test_the_per_request_modules_run_compiled() -> None:
    # The `compiled` hatch environment installs a standard wheel: its modules are mypyc's.
    assert compiled()
    assert not protocol.__file__.endswith(".py")
    assert not app.__file__.endswith(".py")


def test_public_classes_can_be_subclassed_by_an_app() -> None:
    # Compiled classes refuse interpreted subclasses unless they allow them.
    class App(HttpApp):
        pass

    class Answer(HTTPResponse):
        pass

    class Stream(StreamingResponse):
        pass

    class MyRequest(Request):
        pass

    assert App("subclassed").name == "subclassed"
    assert Answer("x").body == b"x"
    assert text("y").body == b"y"
    assert issubclass(Stream, HTTPResponse)
    assert issubclass(MyRequest, Request)
