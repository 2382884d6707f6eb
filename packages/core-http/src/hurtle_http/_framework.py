"""What ``HttpApp`` offers beyond routing and serving one request: ``url_for``, signals,
background tasks, blueprints, static files and the test client.

A mixin of ``HttpApp`` (kept apart so that ``app.py`` stays about requests and serving);
it relies on the app's ``config``, ``router``, ``signals``, ``_tasks`` and ``_add_route``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote, urlencode

from hurtle_http._static import FILE_PARAM, register_static
from hurtle_http.blueprints import Blueprint, BlueprintGroup
from hurtle_http.exceptions import URLBuildError
from hurtle_http.signals import SignalHandler

if TYPE_CHECKING:
    from hurtle_http import _tasks
    from hurtle_http.app import HttpApp
    from hurtle_http.config import Config
    from hurtle_http.router import Router
    from hurtle_http.signals import SignalRegistry
    from hurtle_http.testing import SyncTestClient

F = TypeVar("F", bound=Callable[..., Any])


class FrameworkMixin:
    """``url_for``, signals, tasks, blueprints, static files, testing."""

    name: str
    config: Config
    router: Router
    strict_slashes: bool
    signals: SignalRegistry
    blueprints: dict[str, Blueprint]
    _tasks: _tasks.TaskRegistry
    _add_route: Callable[..., Any]

    @property
    def test_client(self) -> SyncTestClient:
        """``request, response = app.test_client.get("/")`` without a socket (needs httpx:
        ``pip install "hurtle-http[testing]"``); see ``hurtle_http.testing``."""
        from hurtle_http.testing import SyncTestClient  # httpx only when tests ask for it

        return SyncTestClient(cast("HttpApp", self))

    def update_config(self, source: str | os.PathLike[str] | Mapping[str, object] | object) -> None:
        """Load config keys from a mapping, an object or class, or a Python file's path
        (only upper-case names count; see ``Config.update_config``)."""
        self.config.update_config(source)

    def url_for(
        self,
        view_name: str,
        *,
        _anchor: str = "",
        _external: bool = False,
        _scheme: str = "",
        _server: str | None = None,
        **params: Any,
    ) -> str:
        """The URL of the route named ``view_name`` (``"bp.handler"`` in a blueprint).

        Path parameters fill the route; other keyword arguments become the query string
        (a list value repeats its key). ``_external=True`` (or ``_scheme``/``_server``)
        makes it absolute, with the route's ``host`` or ``config.URL_HOST`` as the host when
        ``_server`` is not given (``SERVER_NAME`` is the ``Server`` header here, not a host);
        ``_anchor`` adds a fragment. Raises ``URLBuildError`` when it cannot be built.
        """
        if view_name == "static" or view_name.endswith(".static"):
            view_name = str(params.pop("name", view_name))
            if "filename" in params:
                params[FILE_PARAM] = params.pop("filename")
            elif view_name + ".index" in self.router.names:
                view_name += ".index"
        route, path, rest = self.router.url_for(view_name, params)
        query = urlencode(
            [(k, v) for k, vs in rest.items() for v in (vs if isinstance(vs, list) else [vs])]
        )
        url = f"{path}?{query}" if query else path
        if _scheme and not _external:
            _external = True
        if _external:
            server = _server or route.host or self.config.get("URL_HOST")
            if not server:
                raise URLBuildError(
                    f"url_for({view_name!r}, _external=True) needs a host: pass _server= "
                    "or set app.config.URL_HOST (e.g. 'example.com')"
                )
            if "://" in server:
                scheme, _, server = server.partition("://")
                _scheme = _scheme or scheme
            url = f"{_scheme or 'http'}://{server.rstrip('/')}{url}"
        if _anchor:
            url += f"#{quote(_anchor)}"
        return url

    # Signals and background tasks -------------------------------------------------------

    def signal(self, event: str, *, condition: Mapping[str, Any] | None = None) -> Callable[[F], F]:
        """Decorator: run the handler when ``event`` is dispatched (see ``hurtle_http.signals``)."""

        def register(handler: F) -> F:
            self.signals.add(handler, event, condition)
            return handler

        return register

    def add_signal(
        self,
        handler: SignalHandler,
        event: str,
        condition: Mapping[str, Any] | None = None,
    ) -> SignalHandler:
        """Subscribe ``handler`` to ``event`` (the function form of ``@app.signal``)."""
        self.signals.add(handler, event, condition)
        return handler

    async def event(self, event: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the next dispatch of the signal ``event``; returns its context."""
        return await self.signals.wait(event, timeout)

    def add_task(
        self,
        task: Coroutine[Any, Any, Any] | Callable[..., Any] | asyncio.Future[Any],
        *,
        name: str | None = None,
    ) -> asyncio.Future[Any] | None:
        """Run ``task`` in the background: now if the loop runs, else once the server started.

        ``task`` is a coroutine, a future, or a function (given the app if it takes an
        argument) returning a coroutine; pass a function before the server starts, since
        each worker process runs its own. Tasks still running are cancelled when the server
        stops. Returns the task (None when it is only scheduled).
        """
        return self._tasks.add(task, name)

    def get_task(self, name: str) -> asyncio.Future[Any] | None:
        """The background task named ``name`` (None when there is none)."""
        return self._tasks.get(name)

    def cancel_task(self, name: str) -> None:
        """Cancel the background task named ``name``."""
        self._tasks.cancel(name)

    def purge_tasks(self) -> None:
        """Forget the background tasks that are done."""
        self._tasks.purge()

    @property
    def tasks(self) -> list[str]:
        """The names of the background tasks still running."""
        return self._tasks.names

    # Blueprints and static files --------------------------------------------------------

    def blueprint(
        self, blueprint: Blueprint | BlueprintGroup | Iterable[Any], **options: Any
    ) -> None:
        """Register a ``Blueprint`` or a ``Blueprint.group`` (options: ``url_prefix``,
        ``version``, ``strict_slashes``, ``version_prefix``) on this app."""
        if isinstance(blueprint, (Blueprint, BlueprintGroup)):
            blueprint.register(cast("HttpApp", self), options)
        else:
            for each in blueprint:
                self.blueprint(each, **options)

    def static(
        self,
        uri: str,
        file_or_directory: str | os.PathLike[str],
        *,
        name: str = "static",
        strict_slashes: bool | None = None,
        host: str | None = None,
        content_type: str | None = None,
        directory_view: bool = False,
        index: str | None = None,
    ) -> None:
        """Serve a file, or the files under a directory, at ``uri`` (GET and HEAD).

        Paths are resolved inside the directory: ``..``, absolute paths and symlinks that
        leave it are 404s. ``index`` names the file served for the directory itself;
        ``url_for("static", name="static", filename="a.css")`` builds a file's URL.
        """
        register_static(
            cast("HttpApp", self),
            uri,
            file_or_directory,
            name=name,
            strict_slashes=strict_slashes,
            host=host,
            content_type=content_type,
            directory_view=directory_view,
            index=index,
        )
