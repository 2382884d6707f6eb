"""The Hurtle class in one process: exports, config, guards on misuse, loading, reloader."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

import hurtle
from hurtle import Hurtle, HurtleError
from hurtle.loader import AppRef, load_app
from hurtle.reloader import changes, scan, source_files

APPS = Path(__file__).parent / "apps"


def test_the_public_api_is_importable_from_hurtle() -> None:
    from hurtle import (  # noqa: F401
        HTTPException,
        NotFound,
        Request,
        ServerError,
        empty,
        file,
        html,
        json,
        redirect,
        stream,
        text,
    )

    assert set(hurtle.__all__) <= set(dir(hurtle))
    assert json({"a": 1}).status == 200


def test_config_comes_from_hurtle_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HURTLE_INSPECTOR", "true")
    monkeypatch.setenv("HURTLE_INSPECTOR_PORT", "7001")
    monkeypatch.setenv("HURTLE_INSPECTOR_API_KEY", "12345")
    monkeypatch.setenv("HURTLE_INSPECTOR_TLS_CERT", "/etc/cert.pem")
    app = Hurtle("env_config")
    assert app.config.INSPECTOR is True
    assert app.config.INSPECTOR_PORT == 7001
    assert app.config.INSPECTOR_API_KEY == "12345", "an API key stays a string"
    assert app.config.INSPECTOR_TLS_CERT == "/etc/cert.pem"
    assert app.config.INSPECTOR_HOST == "localhost"


def test_defaults_and_the_inspector_flag() -> None:
    assert Hurtle("plain").config.INSPECTOR is False
    app = Hurtle("inspected", inspector=True, inspector_class="mymod:MyInspector")
    assert app.config.INSPECTOR is True
    assert app.inspector_class == "mymod:MyInspector"
    assert Hurtle.start_method == (os.environ.get("HURTLE_START_METHOD") or "forkserver")


def test_multiplexer_and_manager_outside_their_processes_are_clear_errors() -> None:
    app = Hurtle("outside")
    with pytest.raises(HurtleError, match="exists only in the processes the worker manager"):
        app.m  # noqa: B018
    with pytest.raises(HurtleError, match="only in the main process, from main_process_ready"):
        app.manager  # noqa: B018


def test_shared_ctx_cannot_be_set_outside_main_process_start() -> None:
    app = Hurtle("shared")
    with pytest.raises(RuntimeError, match="main_process_start"):
        app.shared_ctx.queue = object()


def test_main_process_listeners_register_and_unknown_events_are_refused() -> None:
    app = Hurtle("listeners")

    @app.main_process_start
    def start(app: Hurtle) -> None: ...

    @app.listener("main_process_stop")
    async def stop(app: Hurtle, loop: object) -> None: ...

    with pytest.raises(Exception, match="main_process_begin"):
        app.register_listener(start, "main_process_begin")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"single_process": True, "workers": 2}, "single_process=True cannot be combined"),
        ({"single_process": True, "auto_reload": True}, "auto-reload"),
        ({"single_process": True, "dev": True}, "auto-reload"),
        ({"fast": True, "workers": 3}, "fast=True picks the number of workers"),
        ({"workers": 0}, "at least 1 worker"),
        ({"workers": "2"}, "at least 1 worker"),
        ({"port": 70000}, "a port is an int from 0 to 65535"),
        ({"reload_dirs": "/does/not/exist"}, "does not exist"),
        ({"ssl": {"cert": "c.pem"}}, "ssl needs both paths"),
    ],
)
def test_run_refuses_bad_combinations_before_starting(
    kwargs: dict[str, object], message: str
) -> None:
    app = Hurtle("refused")
    with pytest.raises(HurtleError, match=message):
        app.run(**kwargs)  # type: ignore[arg-type]


def test_workers_load_apps_by_module_or_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    for name in ("factory_app",):
        sys.modules.pop(name, None)
    app = load_app(AppRef(name="from_factory", module="factory_app", factory="factory_app:create"))
    assert app.name == "from_factory" and app.module == "factory_app"
    with pytest.raises(HurtleError, match="--factory"):
        load_app(AppRef(name="nowhere_to_be_found", module="factory_app"))
    importlib.invalidate_caches()


def test_the_reloader_sees_added_changed_and_removed_files(tmp_path: Path) -> None:
    watched = tmp_path / "a.py"
    watched.write_text("A = 1\n")
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    before = scan([str(watched)], [str(folder)])
    assert list(before) == [str(watched)]
    (folder / "page.html").write_text("<p>")
    stat = watched.stat()
    watched.write_text("A = 2\n")
    os.utime(watched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = scan([str(watched)], [str(folder)])
    assert changes(before, after) == sorted([str(watched), str(folder / "page.html")])
    watched.unlink()
    assert changes(after, scan([str(watched)], [str(folder)])) == [str(watched)]


def test_the_reloader_watches_the_app_not_the_libraries() -> None:
    files = source_files()
    assert __file__ in files or os.path.realpath(__file__) in files
    assert not any("/hurtle/" in f and "packages/meta" in f for f in files)
    assert not any(f.endswith("/asyncio/events.py") for f in files)
