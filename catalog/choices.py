"""The catalog's fixed lists of values (the model fields' choices)."""

from django.db import models


class ProductStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    PUBLISHED = "PUBLISHED", "Published"
    ARCHIVED = "ARCHIVED", "Archived"


class ProductType(models.TextChoices):
    ONE_TIME = "ONE_TIME", "One-time purchase"
    SUBSCRIPTION = "SUBSCRIPTION", "Subscription"
    DIGITAL_DOWNLOAD = "DIGITAL_DOWNLOAD", "Digital download"
    SERVICE = "SERVICE", "Service"
    CREDIT_PACK = "CREDIT_PACK", "Credit pack"


class PriceType(models.TextChoices):
    ONE_TIME = "ONE_TIME", "One-time"
    RECURRING = "RECURRING", "Recurring"


class Interval(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


class TiersMode(models.TextChoices):
    GRADUATED = "graduated", "Graduated"
    VOLUME = "volume", "Volume"


class LicenseType(models.TextChoices):
    PERSONAL = "personal", "Personal"
    TEAM = "team", "Team"
    ENTERPRISE = "enterprise", "Enterprise"


class BillingSource(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual (invoice)"


class CtaType(models.TextChoices):
    SUBSCRIBE = "subscribe", "Subscribe (billing checkout)"
    CONTACT = "contact", "Contact sales (cta_url)"
    LINK = "link", "Link (cta_url)"
