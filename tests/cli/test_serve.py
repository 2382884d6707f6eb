"""``hurtle serve``: finding the user's app and calling its ``run()`` with the given options."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import hurtle, run_hurtle

FAKE_APP = """
    import json
    import sys


    class FakeApp:
        def __init__(self, name="fake"):
            self.name = name

        def run(self, **kwargs):
            print(f"RUN {self.name} " + json.dumps(kwargs, sort_keys=True))
            if kwargs.get("port") == 1:
                print("Startup failed: port 1 is not allowed", file=sys.stderr)
                raise SystemExit(1)
            if kwargs.get("port") == 2:
                raise RuntimeError("cannot bind")


    app = FakeApp()
    other = FakeApp("other")
    holder = type("Holder", (), {"inner": FakeApp("inner")})


    def create_app():
        return FakeApp("made")


    def broken_factory():
        raise ValueError("no config")


    not_an_app = 42
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A folder with a uniquely named fake app module, as the current directory.

    Yields the module name; sys.path and sys.modules are restored afterwards.
    """
    name = f"fakeapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(FAKE_APP))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    try:
        yield name
    finally:
        for module in set(sys.modules) - before:
            del sys.modules[module]


def _run_line(stdout: str) -> tuple[str, dict[str, object]]:
    lines = [line for line in stdout.splitlines() if line.startswith("RUN ")]
    assert len(lines) == 1, stdout
    _, name, kwargs = lines[0].split(" ", 2)
    return name, json.loads(kwargs)


def test_only_given_options_reach_run(project: str) -> None:
    result = hurtle("serve", f"{project}:app")
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout) == ("fake", {})


def test_every_option(project: str, tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("cert")
    (tmp_path / "key.pem").write_text("key")
    (tmp_path / "templates").mkdir()
    result = hurtle(
        "serve", f"{project}:app", "--host", "0.0.0.0", "--port", "0", "--workers", "3",
        "--fast", "--single-process", "--reload", "--reload-dir", "templates",
        "--no-access-log", "--inspector", "--tls-cert", "cert.pem", "--tls-key", "key.pem",
        "--debug", "--access-log-format", '%(h)s "%(r)s" %(s)s',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout)[1] == {
        "host": "0.0.0.0",
        "port": 0,
        "workers": 3,
        "fast": True,
        "single_process": True,
        "auto_reload": True,
        "reload_dirs": [str(tmp_path / "templates")],
        "access_log": False,
        "access_log_format": '%(h)s "%(r)s" %(s)s',
        "inspector": True,
        "ssl": {"cert": str(tmp_path / "cert.pem"), "key": str(tmp_path / "key.pem")},
        "debug": True,
    }


def test_recycling_options_reach_run(project: str) -> None:
    result = hurtle(
        "serve", project, "--max-requests", "1000", "--max-requests-jitter", "50",
        "--max-lifetime", "3600", "--max-rss", "512",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout)[1] == {
        "max_requests": 1000,
        "max_requests_jitter": 50,
        "max_lifetime": 3600.0,
        "max_rss": 512,
    }
    refused = hurtle("serve", project, "--max-requests", "-1")
    assert refused.exit_code == 2, refused.output


def test_short_options_and_negations(project: str) -> None:
    result = hurtle(
        "serve", "-H", "::1", "-p", "8001", "-w", "2", "--access-log", "--no-inspector", project
    )
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout)[1] == {
        "host": "::1",
        "port": 8001,
        "workers": 2,
        "access_log": True,
        "inspector": False,
    }


def test_dev_means_debug_and_auto_reload(project: str) -> None:
    result = hurtle("serve", project, "--dev")
    assert _run_line(result.stdout)[1] == {"debug": True, "auto_reload": True}


@pytest.mark.parametrize(
    ("target", "extra", "app"),
    [
        ("{m}", (), "fake"),
        ("{m}:other", (), "other"),
        ("{m}:holder.inner", (), "inner"),
        ("{m}:create_app", ("--factory",), "made"),
        ("{m}:create_app()", (), "made"),
        ("./{m}.py", (), "fake"),
        ("{m}.py:other", (), "other"),
    ],
)
def test_target_forms(project: str, target: str, extra: tuple[str, ...], app: str) -> None:
    result = hurtle("serve", target.format(m=project), *extra)
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout)[0] == app


def test_a_factory_is_passed_on_by_import_path(project: str) -> None:
    for target, extra in (("create_app", ("--factory",)), ("create_app()", ())):
        result = hurtle("serve", f"{project}:{target}", "-w", "2", *extra)
        assert result.exit_code == 0, result.output
        assert _run_line(result.stdout) == (
            "made",
            {"workers": 2, "factory": f"{project}:create_app"},
        )


def test_a_file_in_another_folder(tmp_path: Path, project: str) -> None:
    folder = tmp_path / "elsewhere" / "deep"
    folder.mkdir(parents=True)
    name = f"filed_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(FAKE_APP))
    result = hurtle("serve", f"elsewhere/deep/{name}.py:other")
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout)[0] == "other"
    assert str(folder) in sys.path, "the file's folder is importable (for spawned workers)"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuch_module_xyz:app", "could not import 'nosuch_module_xyz': No module named "
         "'nosuch_module_xyz'"),
        ("nosuch_pkg_xyz.web:app", "could not import 'nosuch_pkg_xyz.web': No module named "
         "'nosuch_pkg_xyz'"),
        ("{m}:nope", "module '{m}' has no attribute 'nope'"),
        ("{m}:holder.nope", "module '{m}' has no attribute 'holder.nope'"),
        ("{m}:not_an_app", "{m}:not_an_app is not an app: a int has no run() method"),
        ("{m}:create_app", "{m}:create_app is not an app: a function has no run() method, "
         "and no installed package serves ASGI apps (pip install hurtle does) "
         "(a factory? add --factory)"),
        ("{m}:FakeApp", "{m}:FakeApp is a class, not an app: create the app in the module "
         "(app = MyApp(...)) or point at a factory with --factory"),
        ("{m}:broken_factory()", "the factory {m}:broken_factory() raised ValueError: no config"),
        ("{m}:not_an_app()", "{m}:not_an_app is not callable, so it cannot be a factory"),
        ("missing.py", "could not import 'missing.py': no such Python file 'missing.py'"),
        ("{m}:1bad", "'{m}:1bad': '1bad' is not an attribute name"),
        ("a b:app", "'a b:app': 'a b' is not a module name or a path to a .py file"),
    ],
)  # fmt: skip
def test_load_errors_are_one_line_and_exit_1(project: str, target: str, message: str) -> None:
    result = hurtle("serve", target.format(m=project))
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {message.format(m=project)}\n"
    assert result.stdout == ""


def test_errors_inside_the_users_module(tmp_path: Path, project: str) -> None:
    (tmp_path / "needs_dep.py").write_text("import a_dependency_that_is_missing\napp = 1\n")
    (tmp_path / "broken_syntax.py").write_text("def app(:\n")
    (tmp_path / "raises.py").write_text("raise KeyError('SECRET_KEY')\n")
    missing = hurtle("serve", "needs_dep")
    assert missing.stderr == (
        "Error: could not import 'needs_dep': No module named 'a_dependency_that_is_missing'\n"
    )
    syntax = hurtle("serve", "broken_syntax")
    assert syntax.exit_code == 1
    assert syntax.stderr.startswith("Error: could not import 'broken_syntax': SyntaxError: ")
    assert syntax.stderr.count("\n") == 1
    raises = hurtle("serve", "raises")
    assert raises.stderr == "Error: could not import 'raises': KeyError: 'SECRET_KEY'\n"


def test_debug_shows_the_traceback(project: str) -> None:
    result = hurtle("serve", "nosuch_module_xyz", "--debug")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.endswith(
        "Error: could not import 'nosuch_module_xyz': No module named 'nosuch_module_xyz'\n"
    )


def test_system_exit_from_run_passes_through(project: str) -> None:
    result = hurtle("serve", project, "--port", "1")
    assert result.exit_code == 1
    assert result.stderr == "Startup failed: port 1 is not allowed\n"


def test_other_exceptions_from_run_are_one_line(project: str) -> None:
    result = hurtle("serve", project, "--port", "2")
    assert result.exit_code == 1
    assert result.stderr == f"Error: {project}: run() raised RuntimeError: cannot bind\n"
    debug = hurtle("serve", project, "--port", "2", "--debug")
    assert "Traceback (most recent call last)" in debug.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tls-cert", "cert.pem"), "TLS needs both --tls-cert and --tls-key: --tls-key is"),
        (("--tls-key", "cert.pem"), "TLS needs both --tls-cert and --tls-key: --tls-cert is"),
        (("--workers", "0"), "0 is not in the range x>=1"),
        (("--port", "-1"), "-1 is not in the range 0<=x<=65535"),
        (("--reload-dir", "no-such-dir"), "'no-such-dir' does not exist"),
        (("--tls-cert", "nope.pem", "--tls-key", "cert.pem"), "'nope.pem' does not exist"),
    ],
)
def test_usage_errors(project: str, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "cert.pem").write_text("cert")
    result = hurtle("serve", project, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr
    assert "RUN" not in result.stdout


def test_serve_as_a_process_finds_the_app_in_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "webapp.py").write_text(textwrap.dedent(FAKE_APP))
    ok = run_hurtle("serve", "webapp:create_app()", "-w", "2", cwd=str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == 'RUN made {"factory": "webapp:create_app", "workers": 2}\n'
    bad = run_hurtle("serve", "webapp:nothing", cwd=str(tmp_path))
    assert bad.returncode == 1
    assert bad.stderr == "Error: module 'webapp' has no attribute 'nothing'\n"


# --- apps without run(): the hurtle.serve entry points -----------------------------------

PLUGIN = """
    import json


    class Served:
        def __init__(self, obj, target, factory):
            self.obj, self.target, self.factory = obj, target, factory

        def run(self, **kwargs):
            print("RUN " + self.obj.__name__ + " " + json.dumps(
                {"target": self.target, "factory": self.factory, "kwargs": kwargs},
                sort_keys=True,
            ))


    def adapt(obj, *, target, factory):
        if getattr(obj, "refuse", False):
            return None
        if getattr(obj, "explode", False):
            raise ValueError("lifespan must be 'auto', 'on' or 'off'")
        return Served(obj, target, factory)
"""

ASGI_APP = """
    async def asgi(scope, receive, send):
        pass


    async def refused(scope, receive, send):
        pass


    async def exploding(scope, receive, send):
        pass


    refused.refuse = True
    exploding.explode = True


    def make():
        return asgi


    class NativeApp:
        def run(self, host="127.0.0.1", port=8000):
            print("RUN native")


    native = NativeApp()


    class OwnRunner:
        __name__ = "own_runner"

        def run(self, **kwargs):
            print("RUN own_runner_itself {}")

        async def __call__(self, scope, receive, send):
            pass


    own_runner = OwnRunner()
"""


@pytest.fixture
def with_plugin(project: str, tmp_path: Path) -> str:
    """A distribution on sys.path declaring a ``hurtle.serve`` entry point, and an ASGI app.

    Returns the app module's name.
    """
    suffix = uuid.uuid4().hex[:8]
    plugin = f"fakeserver_{suffix}"
    (tmp_path / f"{plugin}.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / f"{plugin}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {plugin}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[hurtle.serve]\nfake = {plugin}:adapt\n")
    (tmp_path / f"asgimod_{suffix}.py").write_text(textwrap.dedent(ASGI_APP))
    sys.path.insert(0, str(tmp_path))
    return f"asgimod_{suffix}"


def test_an_app_without_run_goes_to_the_serve_entry_point(with_plugin: str) -> None:
    result = hurtle("serve", f"{with_plugin}:asgi", "-w", "2", "--root-path", "/api")
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout) == (
        "asgi",
        {
            "target": f"{with_plugin}:asgi",
            "factory": False,
            "kwargs": {"workers": 2, "root_path": "/api"},
        },
    )


def test_a_callable_with_its_own_run_goes_to_the_entry_point_first(with_plugin: str) -> None:
    """Like a Quart app: an ASGI app whose run() would start the framework's dev server."""
    result = hurtle("serve", f"{with_plugin}:own_runner")
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout)[0] == "own_runner"
    native = hurtle("serve", f"{with_plugin}:native")
    assert native.stdout == "RUN native\n"


def test_a_factory_of_an_asgi_app_goes_by_its_import_path(with_plugin: str) -> None:
    result = hurtle("serve", f"{with_plugin}:make", "--factory")
    assert result.exit_code == 0, result.output
    assert _run_line(result.stdout) == (
        "asgi",
        {
            "target": f"{with_plugin}:make",
            "factory": True,
            "kwargs": {"factory": f"{with_plugin}:make"},
        },
    )


def test_what_no_entry_point_takes_is_one_line(with_plugin: str) -> None:
    refused = hurtle("serve", f"{with_plugin}:refused")
    assert refused.exit_code == 1, refused.output
    assert refused.stderr == (
        f"Error: {with_plugin}:refused is not an app: a function has no run() method and is "
        "not an ASGI application (a factory? add --factory)\n"
    )
    exploding = hurtle("serve", f"{with_plugin}:exploding")
    assert exploding.exit_code == 1, exploding.output
    assert exploding.stderr == (
        f"Error: {with_plugin}:exploding cannot be served: ValueError: lifespan must be "
        "'auto', 'on' or 'off'\n"
    )
    not_callable = hurtle("serve", f"{with_plugin}:native.run.__name__")
    assert not_callable.exit_code == 1
    assert "a str has no run() method\n" in not_callable.stderr


def test_root_path_is_refused_when_run_does_not_take_it(with_plugin: str) -> None:
    result = hurtle("serve", f"{with_plugin}:native", "--root-path", "/api")
    assert result.exit_code == 2, result.output
    assert (
        f"--root-path is for ASGI apps: {with_plugin}:native's run() takes no root_path"
        in result.stderr
    )
    assert "RUN" not in result.stdout
