"""Config: defaults, access styles, update, and HURTLE_* variables coerced by type."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from hurtle_http import Config, ConfigError, HttpApp


def test_defaults_and_attribute_and_item_access() -> None:
    config = Config(environ={})
    assert config.DEBUG is False
    assert config["KEEP_ALIVE_TIMEOUT"] == 5.0
    config.DEBUG = True
    config["ACCESS_LOG"] = False
    assert config["DEBUG"] is True
    assert config.ACCESS_LOG is False
    config.update({"REQUEST_TIMEOUT": 3.0}, RESPONSE_TIMEOUT=4.0)
    assert (config.REQUEST_TIMEOUT, config.RESPONSE_TIMEOUT) == (3.0, 4.0)
    assert "DEBUG" in config
    assert config.get("MISSING", "fallback") == "fallback"
    with pytest.raises(AttributeError, match="no key 'MISSING'"):
        _ = config.MISSING
    with pytest.raises(ConfigError, match="upper case"):
        config["debug"] = True


def test_environment_variables_are_coerced_by_the_default_type() -> None:
    environ = {
        "HURTLE_DEBUG": "true",
        "HURTLE_ACCESS_LOG": "0",
        "HURTLE_REQUEST_MAX_HEADERS": "50",
        "HURTLE_KEEP_ALIVE_TIMEOUT": "2.5",
        "HURTLE_SERVER_NAME": "edge",
        "HURTLE_CUSTOM_FLAG": "false",
        "HURTLE_CUSTOM_COUNT": "7",
        "HURTLE_CUSTOM_RATIO": "0.5",
        "HURTLE_CUSTOM_NAME": "x1",
        "OTHER_DEBUG": "true",
    }
    config = Config(environ=environ)
    assert config.DEBUG is True
    assert config.ACCESS_LOG is False
    assert config.REQUEST_MAX_HEADERS == 50
    assert config.KEEP_ALIVE_TIMEOUT == 2.5
    assert config.SERVER_NAME == "edge"
    assert config.CUSTOM_FLAG is False
    assert config.CUSTOM_COUNT == 7
    assert config.CUSTOM_RATIO == 0.5
    assert config.CUSTOM_NAME == "x1"
    assert "OTHER_DEBUG" not in config and "DEBUG" in config


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HURTLE_DEBUG", "maybe", "not a boolean"),
        ("HURTLE_REQUEST_MAX_HEADERS", "many", "not a valid int"),
        ("HURTLE_KEEP_ALIVE_TIMEOUT", "soon", "not a valid float"),
    ],
)
def test_bad_environment_values_raise_config_error(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config(environ={name: value})


class InspectorConfig(Config):
    DEFAULTS: ClassVar = {"INSPECTOR": False, "INSPECTOR_PORT": 6457}


def test_subclass_defaults_are_coerced_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HURTLE_INSPECTOR", "true")
    monkeypatch.setenv("HURTLE_INSPECTOR_PORT", "7000")

    class App(HttpApp):
        config_class = InspectorConfig

    app = App("inspected")
    assert app.config.INSPECTOR is True
    assert app.config.INSPECTOR_PORT == 7000
    assert app.config.KEEP_ALIVE is True  # the base defaults are kept


def test_register_defaults_after_creation() -> None:
    config = Config(environ={"HURTLE_INSPECTOR": "yes"})
    assert config.INSPECTOR == "yes"  # no default yet: kept as the raw string
    config.register_defaults(
        {"INSPECTOR": False, "INSPECTOR_HOST": "localhost"}, environ={"HURTLE_INSPECTOR": "yes"}
    )
    assert config.INSPECTOR is True
    assert config.INSPECTOR_HOST == "localhost"


def test_update_config_from_a_file_an_object_and_a_mapping(tmp_path: Path) -> None:

    app = HttpApp("cfg")
    path = tmp_path / "settings.py"
    path.write_text("DB_URL = 'sqlite://'\nWORKERS_HINT = 2 * 2\nlowercase = 'ignored'\n")
    app.update_config(path)

    class Settings:
        FEATURE = True
        private = 1

    app.update_config(Settings)
    app.update_config({"TIMEOUT_HINT": 3.5, "not_upper": 1})
    assert (app.config.DB_URL, app.config.WORKERS_HINT) == ("sqlite://", 4)
    assert app.config.FEATURE is True and app.config.TIMEOUT_HINT == 3.5
    assert "lowercase" not in app.config and "private" not in app.config
    with pytest.raises(ConfigError, match="Cannot read"):
        app.update_config(tmp_path / "missing.py")
