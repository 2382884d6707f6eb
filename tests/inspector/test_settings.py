"""InspectorSettings.from_config and the command table: every check fails loudly, early."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from hurtle_http import Config
from hurtle_inspector import Inspector, InspectorConfigError, InspectorSettings
from hurtle_inspector.commands import command_table


class WithReservedName(Inspector):
    def health(self) -> str:
        return "mine"


class WithUnknownAnnotation(Inspector):
    def run(self, value: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass


class Opaque:
    """A class msgspec cannot build from JSON."""


class WithUndecodableType(Inspector):
    def run(self, value: Opaque) -> None:
        pass


class NotAnInspector:
    def reload(self) -> None:
        pass


class Extended(Inspector):
    reload = None  # type: ignore[assignment]  # a subclass may remove a built-in command

    def hello(self, *args: Any, **kwargs: Any) -> None:
        pass


def _settings(**config: object) -> InspectorSettings:
    return InspectorSettings.from_config(config, app_name="App")


def test_defaults_match_the_reference() -> None:
    settings = _settings()
    assert settings == InspectorSettings(app_name="App")
    assert (settings.host, settings.port) == ("localhost", 6457)
    assert settings.tls_cert is settings.tls_key is settings.api_key is None
    assert settings.inspector_class == "hurtle_inspector:Inspector"
    assert settings.url() == "http://localhost:6457"
    empty = _settings(INSPECTOR_TLS_CERT="", INSPECTOR_TLS_KEY=None, INSPECTOR_API_KEY="")
    assert empty == settings


def test_reads_an_app_config_and_survives_pickling() -> None:
    config = Config(
        {"INSPECTOR_HOST": "localhost", "INSPECTOR_PORT": 6457, "INSPECTOR_API_KEY": ""},
        environ={"HURTLE_INSPECTOR_PORT": "7000", "HURTLE_INSPECTOR_API_KEY": "12345"},
    )
    settings = InspectorSettings.from_config(
        config,
        app_name="App",
        inspector_class=Extended,
        mode="debug",
        server="hurtle",
        extra={"a": [1, 2]},
    )
    assert (settings.port, settings.api_key) == (7000, "12345")
    assert settings.inspector_class == f"{__name__}:Extended"
    assert (settings.mode, settings.server, settings.extra) == ("debug", "hurtle", {"a": [1, 2]})
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert settings.exposure_warnings() == []


def test_exposure_is_warned_about() -> None:
    open_host = _settings(INSPECTOR_HOST="0.0.0.0")
    assert "without an API key" in open_host.exposure_warnings()[0]
    clear_key = _settings(INSPECTOR_HOST="10.1.2.3", INSPECTOR_API_KEY="k")
    assert "clear text" in clear_key.exposure_warnings()[0]
    assert _settings(INSPECTOR_HOST="::1").url(8) == "http://[::1]:8"


@pytest.mark.parametrize("port", [-1, 65536, "6457", 64.57, True])
def test_port_must_be_an_int_in_range(port: object) -> None:
    with pytest.raises(InspectorConfigError, match="INSPECTOR_PORT must be an integer"):
        _settings(INSPECTOR_PORT=port)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"INSPECTOR_TLS_CERT": "c.pem"}, "INSPECTOR_TLS_CERT is set but INSPECTOR_TLS_KEY is not"),
        ({"INSPECTOR_TLS_KEY": "k.pem"}, "INSPECTOR_TLS_KEY is set but INSPECTOR_TLS_CERT is not"),
        ({"INSPECTOR_API_KEY": 12345}, "INSPECTOR_API_KEY must be a string"),
        ({"INSPECTOR_HOST": 80}, "INSPECTOR_HOST must be a string"),
    ],
)
def test_invalid_values_are_config_errors(config: dict[str, object], message: str) -> None:
    with pytest.raises(InspectorConfigError, match=message):
        _settings(**config)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("clé", "has a non-ASCII character at position 3"),
        ("ключ", "has a non-ASCII character at position 1"),
        ("two words", "has a space or control character at position 4"),
        ("tab\tkey", "has a space or control character at position 4"),
    ],
)
def test_an_api_key_that_cannot_travel_in_a_header_is_refused(key: str, problem: str) -> None:
    with pytest.raises(InspectorConfigError, match=f"INSPECTOR_API_KEY {problem}: ") as caught:
        _settings(INSPECTOR_API_KEY=key)
    assert key not in str(caught.value)
    assert _settings(INSPECTOR_API_KEY="Ab9-._~+/=!#$%&'*^`|").api_key is not None


def test_unreadable_or_invalid_tls_files_are_config_errors(
    tmp_path: Path, certificate: tuple[str, str]
) -> None:
    cert, key = certificate
    settings = _settings(INSPECTOR_TLS_CERT=cert, INSPECTOR_TLS_KEY=key)
    assert settings.secure and settings.url().startswith("https://")
    assert settings.ssl_context() is not None
    missing = str(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    for pair in ((missing, key), (cert, missing), (str(garbage), key), (cert, cert)):
        with pytest.raises(InspectorConfigError, match="Inspector TLS: Cannot load"):
            _settings(INSPECTOR_TLS_CERT=pair[0], INSPECTOR_TLS_KEY=pair[1])


def test_relative_tls_paths_become_absolute(
    monkeypatch: pytest.MonkeyPatch, certificate: tuple[str, str]
) -> None:
    cert, key = (Path(p) for p in certificate)
    monkeypatch.chdir(cert.parent)
    settings = _settings(INSPECTOR_TLS_CERT=cert.name, INSPECTOR_TLS_KEY=key.name)
    assert settings.tls_cert == str(cert) and settings.tls_key == str(key)


def test_inspector_class_is_checked() -> None:
    class Local(Inspector):
        pass

    cases: list[tuple[object, str]] = [
        (Local, "local function or lambda"),
        (NotAnInspector, "must be a subclass of hurtle_inspector.Inspector"),
        (f"{__name__}:NotAnInspector", "is not a subclass"),
        ("no_such_module_here:Inspector", "Cannot import the inspector class"),
        ("hurtle_inspector:Nope", "Cannot import the inspector class"),
        ("not a path", "Cannot import the inspector class"),
        (WithReservedName, "'health' is reserved"),
        (WithUnknownAnnotation, "cannot be resolved"),
        (WithUndecodableType, "msgspec cannot decode"),
        (42, "must be a subclass"),
    ]
    for inspector_class, message in cases:
        with pytest.raises(InspectorConfigError, match=message):
            InspectorSettings.from_config(
                {},
                app_name="App",
                inspector_class=inspector_class,  # type: ignore[arg-type]
            )


def test_extra_must_be_json() -> None:
    with pytest.raises(InspectorConfigError, match="JSON-encodable"):
        InspectorSettings.from_config({}, app_name="App", extra={"x": object()})


def test_command_table_is_an_allow_list() -> None:
    base = command_table(Inspector)
    assert sorted(base) == ["info", "reload", "restart", "scale", "shutdown", "stats"]
    assert base["info"].method == "GET" and base["info"].path == "/"
    assert base["reload"].method == "POST" and base["reload"].path == "/reload"
    extended = command_table(Extended)
    assert "reload" not in extended and "hello" in extended
    every_name = {name for klass in Extended.__mro__ for name in dir(klass)}
    assert not any(name.startswith("_") for name in extended)
    assert every_name - set(extended) >= set(dir(object))
