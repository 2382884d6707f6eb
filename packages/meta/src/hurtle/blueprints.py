"""``hurtle.blueprints``: ``Blueprint`` and ``BlueprintGroup`` (see ``hurtle_http.blueprints``)."""

from hurtle_http.blueprints import Blueprint, BlueprintGroup

__all__ = ["Blueprint", "BlueprintGroup"]
