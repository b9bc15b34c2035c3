"""The registry of metric families: metric modules register into it, the app's ready()
imports the metric modules (analytics/apps.py), everything else reads it."""

from analytics.metrics.base import Metric, MetricFamily

REGISTRY: dict[str, MetricFamily] = {}


def register(family: MetricFamily) -> MetricFamily:
    if family.key in REGISTRY:
        raise ValueError(f"Metric family {family.key!r} registered twice")
    clash = set(family.metric_keys) & set(all_metric_keys())
    if clash:
        raise ValueError(f"Metric keys {sorted(clash)} already belong to another family")
    REGISTRY[family.key] = family
    return family


def families() -> list[MetricFamily]:
    return list(REGISTRY.values())


def all_metric_keys() -> list[str]:
    return [key for family in REGISTRY.values() for key in family.metric_keys]


def get_metric(key: str) -> Metric | None:
    for family in REGISTRY.values():
        for metric in family.metrics:
            if metric.key == key:
                return metric
    return None


def family_of(key: str) -> MetricFamily | None:
    """The family with this key, or the family producing the metric with this key."""
    if key in REGISTRY:
        return REGISTRY[key]
    for family in REGISTRY.values():
        if key in family.metric_keys:
            return family
    return None
