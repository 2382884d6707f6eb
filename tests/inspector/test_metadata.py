"""The installed distribution and the import package agree on the version."""

from importlib.metadata import version

import hurtle_inspector


def test_version_matches_distribution_metadata() -> None:
    assert hurtle_inspector.__version__ == version("hurtle-inspector")
