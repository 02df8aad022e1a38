"""Named views and the review in force: moved to :mod:`fieldtool.store.views`.

Kept so that ``from fieldtool.views import ...`` goes on working; new code imports from
:mod:`fieldtool.store.views`.
"""

from __future__ import annotations

from fieldtool.store.views import (
    EARTH_RADIUS_M,
    LATEST_REVIEW,
    LATEST_REVIEW_SQL,
    VIEW_NAMES,
    VIEWS,
    create_views,
    haversine_sql,
    sighting_filter_sql,
)

__all__ = [
    "EARTH_RADIUS_M",
    "LATEST_REVIEW",
    "LATEST_REVIEW_SQL",
    "VIEWS",
    "VIEW_NAMES",
    "create_views",
    "haversine_sql",
    "sighting_filter_sql",
]
