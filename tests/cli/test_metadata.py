"""The installed distribution and the import package agree on the version."""

from importlib.metadata import version

import hurtle_cli


def test_version_matches_distribution_metadata() -> None:
    assert hurtle_cli.__version__ == version("hurtle-cli")
