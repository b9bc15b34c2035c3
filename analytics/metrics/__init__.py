"""Metric families. Each module (``credits``, ``customers``...) registers the families it
defines into ``analytics.metrics.registry``; the analytics app's ready() imports those modules
in dashboard order, and other apps' metric modules register the same way (helpbot_insights).

A family is a key, a written definition, a version and a function computing one day's rows
with one grouped SQL query. ``analytics.rollup`` stores what the functions return.
"""

from analytics.metrics.base import Metric, MetricFamily, Row, Unit, day_bounds
from analytics.metrics.registry import (
    REGISTRY,
    all_metric_keys,
    families,
    family_of,
    get_metric,
    register,
)

__all__ = [
    "REGISTRY",
    "Metric",
    "MetricFamily",
    "Row",
    "Unit",
    "day_bounds",
    "families",
    "family_of",
    "get_metric",
    "register",
    "all_metric_keys",
]
