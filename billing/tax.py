"""Tax, one rule everywhere: one-time orders, manual subscriptions and their plan changes
and Stripe subscriptions (as a Stripe TaxRate, billing.services.stripe_tax; through Stripe Tax
instead when STRIPE_AUTOMATIC_TAX is on) all ask ``tax_for``.

The customer's country is their billing address's, or the seller's
(``billing.seller_country``) when it is unknown. A business customer in another EU country
than an EU seller, with a valid VAT number of that country, pays no tax: a reverse charge,
named on the invoice. Otherwise the rate is the staff's rate for that country (TaxRate, in
the staff console); without one, the product's own rate, else ``default_tax_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from stdnum.eu import vat

from billing.models import TaxRate
from core.system_config import get_config

EU_COUNTRIES = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    }
)
# VAT numbers of Greece start with EL.
_VAT_PREFIX = {"GR": "EL"}


@dataclass(frozen=True)
class TaxDecision:
    rate: Decimal
    country: str
    reverse_charge: bool = False
    customer_tax_id: str = ""
    name: str = "Tax"

    def line_label(self) -> str:
        return f"{self.name} ({self.rate * 100:.2f}%)"

    def reverse_charge_line(self) -> dict:
        """A zero line that says why no tax is charged (it adds nothing to the totals)."""
        return {
            "description": f"Reverse charge: VAT to be accounted for by the customer "
            f"(VAT number {self.customer_tax_id})",
            "amount": 0,
            "kind": "tax",
        }


def valid_eu_vat(tax_id: str, country: str) -> bool:
    """A VAT number of ``country`` whose checksum holds (python-stdnum; no network call)."""
    number = (tax_id or "").replace(" ", "").upper()
    prefix = _VAT_PREFIX.get(country, country)
    if not number.startswith(prefix):
        return False
    try:
        return bool(vat.is_valid(number))
    except Exception:  # noqa: BLE001 - a malformed number is simply not valid
        return False


def customer_country(user, address: dict | None = None) -> str:
    address = address if address is not None else (getattr(user, "billing_address", None) or {})
    return str((address or {}).get("country") or "").strip().upper()[:2]


@dataclass(frozen=True)
class TaxRule:
    """The rule for one customer, read once: the country's decision, then per product."""

    country: str
    reverse_charge: TaxDecision | None
    country_rate: TaxDecision | None

    def for_product(self, product=None) -> TaxDecision:
        if self.reverse_charge is not None:
            return self.reverse_charge
        if self.country_rate is not None:
            return self.country_rate
        product_rate = Decimal(getattr(product, "tax_rate", 0) or 0)
        if product_rate:
            return TaxDecision(rate=product_rate, country=self.country)
        return TaxDecision(rate=Decimal(get_config("default_tax_rate") or 0), country=self.country)


def tax_rule(user, address: dict | None = None) -> TaxRule:
    seller = str(get_config("billing.seller_country") or "").strip().upper()
    country = customer_country(user, address) or seller
    tax_id = str(getattr(user, "tax_id", "") or "").strip()
    if (
        seller in EU_COUNTRIES
        and country in EU_COUNTRIES
        and country != seller
        and valid_eu_vat(tax_id, country)
    ):
        return TaxRule(
            country=country,
            country_rate=None,
            reverse_charge=TaxDecision(
                rate=Decimal("0"),
                country=country,
                reverse_charge=True,
                customer_tax_id=tax_id,
                name="VAT",
            ),
        )
    row = TaxRate.objects.filter(country=country, active=True).first()
    return TaxRule(
        country=country,
        reverse_charge=None,
        country_rate=TaxDecision(rate=Decimal(row.rate), country=country, name=row.name)
        if row is not None
        else None,
    )


def tax_for(user, *, product=None, address: dict | None = None) -> TaxDecision:
    return tax_rule(user, address).for_product(product)
