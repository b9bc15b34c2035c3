"""Run-time settings every app reads: the business's own details and money defaults."""

from decimal import Decimal

from core.system_config import define

define(
    "business_name",
    type=str,
    default="Acme Cloud Ltd",
    description="Legal name printed on invoices and e-mails.",
)
define(
    "business_address",
    type=str,
    default="1 Example Street, London, UK",
    description="Postal address printed on invoices.",
)
define(
    "business_tax_id",
    type=str,
    default="",
    description="The business's own VAT/tax number, printed on invoices.",
)
define(
    "support_email",
    type=str,
    default="support@example.com",
    description="Where customers can write to support.",
)
define(
    "default_currency",
    type=str,
    default="usd",
    description="ISO-4217 code used where a currency is not otherwise given.",
)
define(
    "default_tax_rate",
    type=Decimal,
    default=Decimal("0"),
    min_value=Decimal("0"),
    max_value=Decimal("0.99"),
    description="Tax rate applied when neither the customer's "
    "country has a rate (Billing > Tax rates) nor the product has one of its own.",
)
