from core.api import DomainError


class UnknownMetric(DomainError):
    code = "unknown_metric"
    default_message = "No metric or metric family has this key."


class InvalidDateRange(DomainError):
    code = "invalid_date_range"
    default_message = "The date range is not valid."
