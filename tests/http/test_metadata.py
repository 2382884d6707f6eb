"""The installed distribution and the import package agree on the version."""

from importlib.metadata import version

import hurtle_http


def test_version_matches_distribution_metadata() -> None:
    assert hurtle_http.__version__ == version("hurtle-http")
